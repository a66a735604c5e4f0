"""A free hierarchy of storage units at a site, and where each sample is."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base
from lims.samples.models import Sample
from lims.studies.models import Site

KINDS = ("freezer", "ln2_tank", "fridge", "cabinet", "shelf", "rack", "box", "bag", "bin", "block_cabinet")
GRID_KINDS = ("box",)
# Units that hold samples directly and nothing else (a box holds tubes, not racks).
LEAF_KINDS = ("box", "bag")
# Non-grid containers may hold samples loose (bags, bins, FFPE block cabinets), up to ``capacity``.
LOOSE_KINDS = ("bag", "bin", "block_cabinet")
LABEL_SCHEMES = ("A1", "1")  # row letter + column number (A1..I9), or numbered 1..rows*cols


class StorageUnit(Base):
    """Freezer, tank, fridge, cabinet, shelf, rack, box (rows x columns) or a non-grid container."""

    __tablename__ = "storage_unit"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(repr(k) for k in KINDS) + ")", name="kind"),
        CheckConstraint(
            "(kind = 'box' AND COALESCE(rows, 0) BETWEEN 1 AND 26 AND COALESCE(cols, 0) BETWEEN 1 AND 99)"
            " OR (kind != 'box' AND rows IS NULL AND cols IS NULL)",
            name="grid_only_for_boxes",
        ),
        CheckConstraint("parent_id IS NULL OR parent_id != id", name="not_own_parent"),
        CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity"),
        CheckConstraint("label_scheme IN ('A1', '1')", name="label_scheme"),
        UniqueConstraint("site_id", "barcode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("storage_unit.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    barcode: Mapped[str] = mapped_column(String(40))
    set_temp_c: Mapped[float | None] = mapped_column(Float)
    rows: Mapped[int | None] = mapped_column(Integer)
    cols: Mapped[int | None] = mapped_column(Integer)
    box_type: Mapped[str | None] = mapped_column(String(40))
    allowed_types: Mapped[str | None] = mapped_column(String(400))
    capacity: Mapped[int | None] = mapped_column(Integer)
    label_scheme: Mapped[str] = mapped_column(String(4), default="A1", server_default="A1")
    # Bumped on every change: a move based on a stale view of the unit is refused (compare-and-set).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by SQLAlchemy, never changed

    site: Mapped[Site] = relationship()
    parent: Mapped[StorageUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[StorageUnit]] = relationship(back_populates="parent", order_by="StorageUnit.name")

    @property
    def allowed(self) -> set[str]:
        """Return the sample type codes this unit itself admits (empty: any)."""
        return {c.strip().upper() for c in (self.allowed_types or "").split(",") if c.strip()}

    @property
    def slots(self) -> int | None:
        """Return how many samples the unit holds directly (grid size or capacity), None if unbounded."""
        if self.rows and self.cols:
            return self.rows * self.cols
        return self.capacity

    def label(self, row: int, col: int) -> str:
        """Return the printed label of a grid position under this box's scheme ('C7' or '25')."""
        if self.label_scheme == "1" and self.cols:
            return str((row - 1) * self.cols + col)
        return f"{chr(ord('A') + row - 1)}{col}"


class Placement(Base):
    """Where a sample is: a unit and, for grid boxes, a row and column; one sample per position."""

    __tablename__ = "placement"
    __table_args__ = (
        UniqueConstraint("unit_id", "row", "col"),
        CheckConstraint("(row IS NULL) = (col IS NULL)", name="row_and_col_together"),
        CheckConstraint("row IS NULL OR (row >= 1 AND col >= 1)", name="position_positive"),
    )

    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("storage_unit.id"), index=True)
    row: Mapped[int | None] = mapped_column(Integer)
    col: Mapped[int | None] = mapped_column(Integer)
    # Compare-and-set: two people moving the same sample at once cannot both succeed.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by SQLAlchemy, never changed

    sample: Mapped[Sample] = relationship()
    unit: Mapped[StorageUnit] = relationship()

    @property
    def position_label(self) -> str | None:
        """Return the grid label such as 'C7', or None outside a grid."""
        if self.row is None or self.col is None:
            return None
        return self.unit.label(self.row, self.col)
