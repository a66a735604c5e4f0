"""Which site holds a sample now, and which sites held it (what lims.access lets each site see).

A sample is held by the site where it was collected, passes to the site that receives it in a shipment, and
stays visible to every site that ever held it. ``hold`` is the one writer of both facts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.samples.models import Sample, SampleSite


def hold(session: Session, sample: Sample, site_id: int) -> None:
    """Record that ``site_id`` holds ``sample`` from now on (and keeps seeing it afterwards)."""
    sample.site_id = site_id
    if sample.id is None:
        session.flush()
    known = session.scalar(select(SampleSite.site_id).where(SampleSite.sample_id == sample.id,
                                                            SampleSite.site_id == site_id))
    if known is None:
        session.add(SampleSite(sample_id=sample.id, site_id=site_id))
