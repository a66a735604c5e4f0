"""Import every domain's models so the metadata is complete (Alembic, tests)."""

from lims.accounts.models import User, user_site
from lims.core.db import Base
from lims.custody.models import CustodyEvent, CustodyHead
from lims.participants.models import Consent, ConsentScope, Participant, Visit
from lims.samples.models import AccessionCounter, PoolMember, Sample
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import ContainerType, KitItem, SampleType, Site, Stratum, Study, StudySite, TimePoint

metadata = Base.metadata

__all__ = [
    "AccessionCounter", "Base", "Consent", "ConsentScope", "ContainerType", "CustodyEvent", "CustodyHead",
    "KitItem", "Participant", "Placement", "PoolMember", "Sample", "SampleType", "Site", "StorageUnit",
    "Stratum", "Study", "StudySite", "TimePoint", "User", "Visit", "metadata", "user_site",
]
