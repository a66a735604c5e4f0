"""A shipment, the samples packed into it, what arrived, and the partner keys its manifests are trusted by."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.accounts.models import User
from lims.core.db import Base, UTCDateTime, utcnow
from lims.samples.models import Sample
from lims.studies.models import Site, Study

CONDITIONS = ("dry_ice", "ln2_dry_shipper", "ambient", "cold_pack")
STATUSES = ("draft", "released", "received")
ITEM_STATES = ("packed", "received", "damaged", "missing")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ManifestKey(Base):
    """A partner installation's public manifest key that an admin registered: manifests it signs are
    trusted."""

    __tablename__ = "manifest_key"
    __table_args__ = (
        UniqueConstraint("fingerprint"),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= registered_at", name="revoked_after_registered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The sending installation's name, as its manifests give it ("instance").
    installation: Mapped[str] = mapped_column(String(80))
    # Base64 of the 32 raw bytes of the Ed25519 public key.
    public_key: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the raw public key, hex: the key id manifests carry.
    fingerprint: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    registered_by: Mapped[User | None] = relationship(foreign_keys=[registered_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def state(self) -> str:
        return "revoked" if self.revoked_at is not None else "trusted"


class Shipment(Base):
    """Samples travelling together from one site to another site or an outside lab."""

    __tablename__ = "shipment"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("conditions", CONDITIONS), name="conditions"),
        CheckConstraint("to_site_id IS NOT NULL OR destination IS NOT NULL", name="has_destination"),
        CheckConstraint("to_site_id IS NULL OR to_site_id != from_site_id", name="not_to_itself"),
        CheckConstraint("status = 'draft' OR released_at IS NOT NULL", name="released_has_time"),
        CheckConstraint("status != 'received' OR received_at IS NOT NULL", name="received_has_time"),
        UniqueConstraint("code", "origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    # "local" for shipments made here; the sending instance's name for imported manifests.
    origin: Mapped[str] = mapped_column(String(80), default="local")
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    from_site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    to_site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    destination: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    conditions: Mapped[str] = mapped_column(String(20))
    courier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    arrival_temp_c: Mapped[float | None] = mapped_column(Float)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    # The registered partner key whose signature an imported manifest carried (None for local shipments).
    manifest_key_id: Mapped[int | None] = mapped_column(ForeignKey("manifest_key.id"))
    # Scans at receipt that named no item of this shipment: [{"code": ..., "reason": ...}].
    unexpected: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by SQLAlchemy, never changed

    study: Mapped[Study] = relationship()
    from_site: Mapped[Site] = relationship(foreign_keys=[from_site_id])
    to_site: Mapped[Site | None] = relationship(foreign_keys=[to_site_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    manifest_key: Mapped[ManifestKey | None] = relationship()
    items: Mapped[list[ShipmentItem]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="ShipmentItem.id"
    )

    @property
    def destination_label(self) -> str:
        """Return where the shipment goes, e.g. 'ZJ' or the outside lab's name."""
        if self.to_site is not None:
            return self.to_site.code
        return self.destination or "?"


class ShipmentItem(Base):
    """One sample packed into a shipment, with what it was and what became of it at receipt."""

    __tablename__ = "shipment_item"
    __table_args__ = (
        UniqueConstraint("shipment_id", "accession"),
        CheckConstraint(_in("state", ITEM_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"), index=True)
    accession: Mapped[str] = mapped_column(String(20))
    # None for items of an imported manifest whose sample is not registered in this instance.
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"), index=True)
    participant_code: Mapped[str] = mapped_column(String(20))
    sample_type_code: Mapped[str] = mapped_column(String(40))
    # The sample it was derived from (None for a primary), as packed or as the manifest declared it.
    parent_accession: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    from_location: Mapped[str | None] = mapped_column(Text)
    box_barcode: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default="packed")
    damage: Mapped[str | None] = mapped_column(Text)

    shipment: Mapped[Shipment] = relationship(back_populates="items")
    sample: Mapped[Sample | None] = relationship()
