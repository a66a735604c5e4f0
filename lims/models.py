"""Import every domain's models so the metadata is complete (Alembic, tests)."""

from lims.core.db import Base
from lims.domains import domain_modules

domain_modules("models")
metadata = Base.metadata
