"""Access scope: who may see and act on which sample, participant, storage unit, shipment and date.

Every page, JSON endpoint, download and service asks these functions; lists filter with their SQL clauses.
See :mod:`lims.access.rules` for the rules and :mod:`lims.access.dates` for data minimisation.
"""

from lims.access.dates import (
    exact_dates,
    format_local,
    from_local,
    local_date,
    local_datetime,
    local_today,
    shown,
    study_day,
    study_zone,
    when,
)
from lims.access.rules import (
    may_act,
    may_see,
    require,
    require_see,
    require_site,
    site_ids,
    visible_participants,
    visible_sample_ids,
    visible_samples,
    visible_shipments,
    visible_sites,
    visible_units,
    works_at,
)

__all__ = [
    "exact_dates", "format_local", "from_local", "local_date", "local_datetime", "local_today", "may_act",
    "may_see", "require", "require_see", "require_site", "shown", "site_ids",
    "study_day", "study_zone", "visible_participants", "visible_sample_ids", "visible_samples",
    "visible_shipments", "visible_sites", "visible_units", "when", "works_at",
]
