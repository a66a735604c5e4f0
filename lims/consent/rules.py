"""What a participant's consent allows: one rule set that every use of a sample or a result asks.

A purpose is what a sample or a participant's data is used for. Handling that only moves, stores, labels
or ends a sample (look-up, receipt, storage, moves, check-in, disposal) is not a use and needs no consent.
Every purpose needs a recorded, not withdrawn consent that covers marker research; genetic sample types
(the study setting ``genetic_sample_types``) need genetic research too, and anything leaving the study
needs third-party sharing. A participant who withdrew, and a quarantined sample, refuse every purpose.

``refusal(sample, purpose)`` answers for one sample; ``states`` + ``decide`` answer for many participants
at once (imports, exports, analyses); ``usable(purpose)`` and ``usable_samples(session, purpose)`` are the
same rule as WHERE clauses for lists of participants and of samples (or their results).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from lims.participants.models import Consent, ConsentScope, Participant
from lims.samples.models import Sample
from lims.studies.models import Study

PURPOSES = ("check_out", "thaw", "ship", "share_outside_study", "genetic", "marker_research", "export",
            "analysis")
DEFAULT_GENETIC_TYPES = ("BUFFY_COAT", "DNA", "WHOLE_BLOOD")
EXTRA_SCOPE = {"genetic": "GENETIC_RESEARCH", "share_outside_study": "THIRD_PARTY_SHARING"}


@dataclass(frozen=True)
class ConsentState:
    """What a participant's current consent grants, as far as purposes are concerned."""

    code: str
    recorded: bool
    withdrawn: bool
    scopes: frozenset[str]


def state_of(participant: Participant) -> ConsentState:
    """Return the state of ``participant``'s current (latest) consent."""
    consent = participant.consent
    if consent is None:
        return ConsentState(participant.code, False, False, frozenset())
    granted = frozenset(s.scope for s in consent.scopes if s.granted)
    return ConsentState(participant.code, True, consent.withdrawn_on is not None, granted)


def states(session: Session, participant_ids: Iterable[int] | None = None, *,
           study_id: int | None = None) -> dict[int, ConsentState]:
    """Return the consent state of many participants in one query (by ids, or a whole study)."""
    stmt = select(Participant).options(selectinload(Participant.consents).selectinload(Consent.scopes))
    if participant_ids is not None:
        stmt = stmt.where(Participant.id.in_(list(participant_ids)))
    if study_id is not None:
        stmt = stmt.where(Participant.study_id == study_id)
    return {p.id: state_of(p) for p in session.scalars(stmt)}


def genetic_types(settings: dict | None) -> tuple[str, ...]:
    """Return the sample type codes whose use is genetic research (study setting ``genetic_sample_types``)."""
    return tuple((settings or {}).get("genetic_sample_types") or DEFAULT_GENETIC_TYPES)


def decide(state: ConsentState, purpose: str, *, genetic: bool = False, what: str = "") -> str | None:
    """Return why ``state`` does not allow ``purpose`` (``genetic``: the material is genetic), or None."""
    if purpose not in PURPOSES:
        return f"unknown purpose {purpose!r}; use one of {', '.join(PURPOSES)}"
    who = f"participant {state.code}"
    if state.withdrawn:
        return f"{who} withdrew consent: {what or 'their samples and data'} may not be used"
    if not state.recorded:
        return f"{who} has no recorded consent"
    if "MARKER_RESEARCH" not in state.scopes:
        return f"{who}'s consent does not cover marker research"
    if (genetic or purpose == "genetic") and "GENETIC_RESEARCH" not in state.scopes:
        return (f"{who}'s consent does not cover genetic "
                f"research{f', so {what} may not be used' if what else ''}")
    extra = EXTRA_SCOPE.get(purpose)
    if extra == "THIRD_PARTY_SHARING" and extra not in state.scopes:
        return f"{who}'s consent does not cover sharing samples or data outside the study"
    return None


def is_genetic(sample: Sample) -> bool:
    """Tell whether ``sample`` is genetic material under its study's settings."""
    return sample.sample_type.code in genetic_types(sample.participant.study.settings)


def refusal(sample: Sample, purpose: str) -> str | None:
    """Return why ``sample`` may not be used for ``purpose``, or None when consent allows it."""
    if sample.status == "quarantined":
        return (f"{sample.accession} is quarantined: participant {sample.participant.code} withdrew consent; "
                "it may only be disposed")
    return decide(state_of(sample.participant), purpose, genetic=is_genetic(sample),
                  what=sample.sample_type.name)


def _latest_consent_id() -> ColumnElement[int]:
    return (select(Consent.id).where(Consent.participant_id == Participant.id)
            .order_by(Consent.signed_on.desc(), Consent.id.desc()).limit(1)
            .correlate(Participant).scalar_subquery())


def usable(purpose: str = "marker_research") -> ColumnElement[bool]:
    """A WHERE clause on Participant: participants whose consent allows ``purpose`` (for lists and
    queries)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    needed = ["MARKER_RESEARCH"] + ([EXTRA_SCOPE[purpose]] if purpose in EXTRA_SCOPE else [])
    latest = _latest_consent_id()
    clauses = [exists(select(Consent.id).where(Consent.id == latest, Consent.withdrawn_on.is_(None)))]
    for scope in needed:
        clauses.append(exists(select(ConsentScope.id).where(
            ConsentScope.consent_id == latest, ConsentScope.scope == scope, ConsentScope.granted.is_(True))))
    return and_(*clauses)


def usable_samples(session: Session, purpose: str = "marker_research") -> ColumnElement[bool]:
    """A WHERE clause on Sample joined to its Participant: the samples ``refusal(sample, purpose)`` allows.

    The participant's consent must allow ``purpose`` (see :func:`usable`), a genetic sample type (study
    setting) also needs genetic research, and a quarantined sample is never usable.
    """
    genetic_ids = [t.id for study in session.scalars(select(Study)) for t in study.sample_types
                   if t.code in genetic_types(study.settings)]
    return and_(usable(purpose), Sample.status != "quarantined",
                or_(Sample.sample_type_id.not_in(genetic_ids), usable("genetic")))
