"""Who may see and act on what: the site scope, on top of the role x action table.

Site-bound roles (``SITE_BOUND_ROLES`` in the permission table) work at their own sites; every other role
is study-wide. For a site-bound user:

- a **participant** is visible when enrolled at one of the user's sites;
- a **sample** is visible when one of the user's sites holds it or ever held it (collected there, received
  there in a shipment), and the user may act on it only where it is held now;
- a **storage unit** is visible and usable at its own site;
- a **shipment** is visible to the sending and the receiving site; each step says which site acts;
- a **printer** and its **print jobs** are visible and usable at the printer's site.

Objects outside the scope are answered as not found (existence is not revealed across sites); an object in
scope that the role may not touch is forbidden. Lists filter in SQL with the ``visible_*`` clauses, never
after loading. Calendar dates of participants are shown only to roles with ``dates.exact``; everyone else
sees study days (see :mod:`lims.access.dates`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import object_session

from lims.core.errors import Forbidden, NotFound
from lims.core.permissions import SITE_BOUND_ROLES, allowed
from lims.participants.models import Participant
from lims.printing.models import Printer, PrintJob
from lims.samples.models import Sample, SampleSite
from lims.shipments.models import Shipment
from lims.storage.models import StorageUnit
from lims.studies.models import Site


def site_ids(user: Any) -> frozenset[int] | None:
    """Return the ids of the sites ``user`` works at, or None for a study-wide role."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if user.role not in SITE_BOUND_ROLES:
        return None
    return frozenset(site.id for site in user.sites)


def works_at(user: Any, site_id: int | None) -> bool:
    """Tell whether ``user`` may act at ``site_id`` (study-wide roles act everywhere)."""
    sites = site_ids(user)
    return sites is None or site_id in sites


def _sites_text(user: Any) -> str:
    return ", ".join(user.site_codes) or "no site"


# ----- one object -------------------------------------------------------------------------------------
def _seen_sites(obj: Any) -> set[int] | None:
    """Return the sites from which ``obj`` is visible (None: visible to everyone who may read)."""
    if isinstance(obj, Participant):
        return {obj.site_id}
    if isinstance(obj, Sample):
        session = object_session(obj)
        held = set(session.scalars(select(SampleSite.site_id)
                                   .where(SampleSite.sample_id == obj.id))) if session else set()
        return held | {obj.site_id}
    if isinstance(obj, StorageUnit):
        return {obj.site_id}
    if isinstance(obj, Shipment):
        return {obj.from_site_id} | ({obj.to_site_id} if obj.to_site_id is not None else set())
    if isinstance(obj, Site):
        return {obj.id}
    if isinstance(obj, Printer):
        return {obj.site_id}
    if isinstance(obj, PrintJob):
        return {obj.printer.site_id}
    return None


def _acting_sites(obj: Any) -> set[int] | None:
    """Return the sites that may act on ``obj`` now (a sample: only where it is held now)."""
    if isinstance(obj, Sample):
        return {obj.site_id}
    return _seen_sites(obj)


def may_see(user: Any, obj: Any) -> bool:
    """Tell whether ``user`` may see ``obj`` (sample, participant, storage unit, shipment, site, printer,
    print job)."""
    sites = site_ids(user)
    if sites is None:
        return True
    if isinstance(obj, Sample) and obj.site_id in sites:
        # the holding site sees it: no need to read which sites held it before (one query per scan)
        return True
    seen = _seen_sites(obj)
    return seen is None or bool(seen & sites)


def may_act(user: Any, action: str, obj: Any = None) -> bool:
    """Tell whether ``user``'s role allows ``action`` and, given ``obj``, whether the user's sites may act on
    it."""
    if user is None or not getattr(user, "is_authenticated", False) or not allowed(user.role, action):
        return False
    if obj is None:
        return True
    sites = site_ids(user)
    if sites is None:
        return True
    acting = _acting_sites(obj)
    return acting is None or bool(acting & sites)


def _name(obj: Any) -> str:
    if isinstance(obj, Sample):
        return f"sample {obj.accession}"
    if isinstance(obj, Participant):
        return f"participant {obj.code}"
    if isinstance(obj, StorageUnit):
        return f"storage unit {obj.barcode}"
    if isinstance(obj, Shipment):
        return f"shipment {obj.code}"
    if isinstance(obj, Printer):
        return f"printer {obj.name}"
    return str(obj)


def _missing(obj: Any) -> str:
    """Say what the owner's look-up says for an object that does not exist, so a hidden one reads the same.

    The words are those of ``samples.service.get_by_accession``, ``participants.service.get_by_code``,
    ``storage.service.get_unit``, ``shipments.service.get_shipment``, ``printing.printers.get_printer`` and
    ``printing.service.get_job`` (tests/access checks they agree), and
    they name only what the request named: another site's barcode or shipment code is never revealed.
    """
    if isinstance(obj, Sample):
        return f"no sample {obj.accession}: the ID is valid but was never registered here"
    if isinstance(obj, Participant):
        return f"no participant {obj.code!r}"
    if isinstance(obj, StorageUnit):
        return f"no storage unit #{obj.id}"
    if isinstance(obj, Shipment):
        return f"no shipment #{obj.id}"
    if isinstance(obj, Printer):
        return f"no printer #{obj.id}"
    if isinstance(obj, PrintJob):
        return f"no print job #{obj.id}"
    return "not found"


def require_see(user: Any, obj: Any) -> Any:
    """Return ``obj`` if ``user`` may see it; otherwise raise NotFound, worded as for a missing object."""
    if not may_see(user, obj):
        raise NotFound(_missing(obj))
    return obj


def require(user: Any, action: str, obj: Any = None) -> Any:
    """Return ``obj`` if ``user`` may do ``action`` on it; raise NotFound outside the scope, Forbidden
    inside."""
    if obj is not None:
        require_see(user, obj)
    if not may_act(user, action, obj):
        if obj is not None and user is not None and allowed(user.role, action):
            raise Forbidden(f"{_name(obj)} is held at another site; you work for {_sites_text(user)}")
        raise Forbidden(f"your role may not do this ({action})")
    return obj


def require_site(user: Any, site: Site, doing: str) -> None:
    """Refuse unless ``user`` may act at ``site`` (e.g. packing a shipment happens at the sending site)."""
    if user is not None and not works_at(user, site.id):
        raise Forbidden(f"{doing} happens at site {site.code}; you work for {_sites_text(user)}")


# ----- lists: WHERE clauses -------------------------------------------------------------------------
def visible_sample_ids(user: Any) -> Select[Any] | None:
    """Return a subquery of the ids of samples ``user`` may see, or None when every sample is visible."""
    sites = site_ids(user)
    if sites is None:
        return None
    return select(SampleSite.sample_id).where(SampleSite.site_id.in_(sites or [-1]))


def _clause(sites: frozenset[int] | None, build: Any) -> ColumnElement[bool]:
    if sites is None:
        return true()
    if not sites:
        return false()
    return build(sites)


def visible_samples(user: Any) -> ColumnElement[bool]:
    """A WHERE clause on Sample: the samples ``user`` may see."""
    ids = visible_sample_ids(user)
    return true() if ids is None else Sample.id.in_(ids)


def visible_participants(user: Any) -> ColumnElement[bool]:
    """A WHERE clause on Participant: the participants ``user`` may see."""
    return _clause(site_ids(user), Participant.site_id.in_)


def visible_units(user: Any) -> ColumnElement[bool]:
    """A WHERE clause on StorageUnit: the storage ``user`` may see."""
    return _clause(site_ids(user), StorageUnit.site_id.in_)


def visible_shipments(user: Any) -> ColumnElement[bool]:
    """A WHERE clause on Shipment: shipments from or to the user's sites."""
    return _clause(site_ids(user), lambda s: or_(Shipment.from_site_id.in_(s), Shipment.to_site_id.in_(s)))


def visible_sites(user: Any) -> ColumnElement[bool]:
    """A WHERE clause on Site: the sites ``user`` works at (all for study-wide roles)."""
    return _clause(site_ids(user), Site.id.in_)
