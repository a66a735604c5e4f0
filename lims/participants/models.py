"""Participants (no names or birth dates), consent with coded scopes, and visits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base, UTCDateTime, utcnow
from lims.studies.models import Site, Study, TimePoint

CONSENT_SCOPES = ("MARKER_RESEARCH", "GENETIC_RESEARCH", "THIRD_PARTY_SHARING", "FUTURE_CONTACT")
VISIT_STATUSES = ("planned", "done", "missed", "not_applicable")


class Participant(Base):
    """A pseudonymous trial participant, e.g. ``ZJ-014``; identifying data stay at the site."""

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("study_id", "code"),
        UniqueConstraint("id", "study_id"),
        CheckConstraint("sex IS NULL OR sex IN ('M', 'F')", name="sex"),
        CheckConstraint("age IS NULL OR (age >= 18 AND age <= 100)", name="age"),
        CheckConstraint("ecog IS NULL OR (ecog >= 0 AND ecog <= 4)", name="ecog"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(20))
    enrolled_on: Mapped[date] = mapped_column(Date)
    stratum: Mapped[str | None] = mapped_column(String(40))
    sex: Mapped[str | None] = mapped_column(String(1))
    age: Mapped[int | None] = mapped_column(Integer)
    ecog: Mapped[int | None] = mapped_column(Integer)
    tumour_location: Mapped[str | None] = mapped_column(String(10))
    ct: Mapped[str | None] = mapped_column(String(5))
    cn: Mapped[str | None] = mapped_column(String(5))
    cm: Mapped[str | None] = mapped_column(String(5))
    stage: Mapped[str | None] = mapped_column(String(10))
    rt_start_on: Mapped[date | None] = mapped_column(Date)
    eot_on: Mapped[date | None] = mapped_column(Date)
    cre1_on: Mapped[date | None] = mapped_column(Date)
    randomised_on: Mapped[date | None] = mapped_column(Date)
    surgery_on: Mapped[date | None] = mapped_column(Date)

    study: Mapped[Study] = relationship()
    site: Mapped[Site] = relationship()
    consents: Mapped[list[Consent]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", order_by="(Consent.signed_on, Consent.id)"
    )
    visits: Mapped[list[Visit]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", order_by="Visit.planned_on"
    )

    def anchor_date(self, anchor: str) -> date | None:
        """Return the date a schedule anchor fell on for this participant, if known."""
        return {
            "enrolment": self.enrolled_on,
            "rt_start": self.rt_start_on,
            "eot": self.eot_on,
            "cre1": self.cre1_on,
            "randomisation": self.randomised_on,
            "surgery": self.surgery_on,
        }.get(anchor)

    @property
    def consent(self) -> Consent | None:
        """Return the current (latest) consent."""
        return self.consents[-1] if self.consents else None

    @property
    def withdrawn(self) -> bool:
        """Tell whether the participant has withdrawn consent."""
        return self.consent is not None and self.consent.withdrawn_on is not None


class Consent(Base):
    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint("withdrawn_on IS NULL OR withdrawn_on >= signed_on",
                        name="withdrawal_after_signature"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(40))
    signed_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    participant: Mapped[Participant] = relationship(back_populates="consents")
    scopes: Mapped[list[ConsentScope]] = relationship(
        back_populates="consent", cascade="all, delete-orphan", order_by="ConsentScope.scope"
    )

    def allows(self, scope: str) -> bool:
        """Tell whether this consent, not withdrawn, grants ``scope``."""
        return self.withdrawn_on is None and any(s.scope == scope and s.granted for s in self.scopes)


class ConsentScope(Base):
    __tablename__ = "consent_scope"
    __table_args__ = (
        UniqueConstraint("consent_id", "scope"),
        CheckConstraint(
            "scope IN ('MARKER_RESEARCH', 'GENETIC_RESEARCH', 'THIRD_PARTY_SHARING', 'FUTURE_CONTACT')",
            name="scope",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool]

    consent: Mapped[Consent] = relationship(back_populates="scopes")


class Visit(Base):
    """A participant's occurrence of a schedule time point: planned window and actual date."""

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("participant_id", "timepoint_id", "occurrence"),
        UniqueConstraint("id", "participant_id"),
        CheckConstraint("status IN ('planned', 'done', 'missed', 'not_applicable')", name="status"),
        CheckConstraint("window_start IS NULL OR window_end >= window_start", name="window"),
        CheckConstraint("status != 'done' OR actual_on IS NOT NULL", name="done_has_date"),
        ForeignKeyConstraint(["participant_id"], ["participant.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column()
    timepoint_id: Mapped[int] = mapped_column(ForeignKey("timepoint.id"))
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    planned_on: Mapped[date | None] = mapped_column(Date)
    window_start: Mapped[date | None] = mapped_column(Date)
    window_end: Mapped[date | None] = mapped_column(Date)
    actual_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participant: Mapped[Participant] = relationship(back_populates="visits")
    timepoint: Mapped[TimePoint] = relationship()

    @property
    def in_window(self) -> bool | None:
        """Tell whether the visit happened inside its window (None if unknown)."""
        if self.actual_on is None or self.window_start is None or self.window_end is None:
            return None
        return self.window_start <= self.actual_on <= self.window_end
