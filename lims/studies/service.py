"""Install a protocol into the database and read the study back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.core.errors import Conflict, NotFound
from lims.studies.models import ContainerType, KitItem, SampleType, Site, Stratum, Study, StudySite, TimePoint
from lims.studies.protocol import Protocol, TimePointSpec


def install_protocol(session: Session, protocol: Protocol) -> tuple[Study, bool]:
    """Create the study of ``protocol``; return (study, created). Installing it again changes nothing."""
    study = session.scalar(select(Study).where(Study.code == protocol.code))
    if study is not None:
        if study.protocol_sha256 != protocol.sha256:
            raise Conflict(
                f"study {protocol.code} is already installed from another version of its protocol "
                f"(stored {study.protocol_sha256[:12]}, file {protocol.sha256[:12]}); "
                "amendments must be migrated, not reloaded"
            )
        return study, False

    study = Study(
        code=protocol.code, name=protocol.name, protocol_version=protocol.version,
        protocol_sha256=protocol.sha256, accession_prefix=protocol.accession_prefix,
        settings={**protocol.settings, "retention_years": protocol.retention},
    )
    session.add(study)
    _add_sites(session, study, protocol)
    for raw in protocol.strata:
        study.strata.append(Stratum(code=raw["code"], name=raw.get("name", raw["code"]),
                                    randomised=bool(raw.get("randomised", False))))
    containers = _add_containers(study, protocol)
    types = _add_sample_types(study, protocol)
    for order, spec in enumerate(protocol.timepoints, start=1):
        study.timepoints.append(_timepoint(spec, order, types, containers))
    session.flush()
    return study, True


def _add_sites(session: Session, study: Study, protocol: Protocol) -> None:
    for raw in protocol.sites:
        site = session.scalar(select(Site).where(Site.code == raw["code"]))
        if site is None:
            site = Site(code=raw["code"], name=raw["name"])
            session.add(site)
        study.sites.append(StudySite(site=site, enrolment_weight=float(raw.get("enrolment_weight", 1.0))))


def _add_containers(study: Study, protocol: Protocol) -> dict[str, ContainerType]:
    containers = {}
    for raw in protocol.containers:
        dead, dead_unit = _amount(raw.get("dead_volume"))
        containers[raw["code"]] = ContainerType(code=raw["code"], name=raw["name"],
                                                sprec_code=raw.get("sprec"),
                                                dead_volume=dead, dead_volume_unit=dead_unit)
        study.containers.append(containers[raw["code"]])
    return containers


def _add_sample_types(study: Study, protocol: Protocol) -> dict[str, SampleType]:
    types = {}
    for raw in protocol.sample_types:
        dead, dead_unit = _amount(raw.get("dead_volume"))
        coldest, warmest = raw.get("storage_temp_c") or (None, None)
        types[raw["code"]] = SampleType(
            code=raw["code"], name=raw["name"], kind=raw["kind"], sprec_type=raw.get("sprec_type"),
            unit=raw["unit"], retention_years=protocol.retention.get(raw["code"]),
            storage_min_c=coldest, storage_max_c=warmest, dead_volume=dead, dead_volume_unit=dead_unit,
            preanalytics=list(raw.get("preanalytics", [])),
        )
        study.sample_types.append(types[raw["code"]])
    return types


def _timepoint(spec: TimePointSpec, order: int, types: dict[str, SampleType],
               containers: dict[str, ContainerType]) -> TimePoint:
    tp = TimePoint(
        code=spec.code, name=spec.name, order=order, anchor=spec.anchor, day=spec.day,
        window_before=spec.window_before, window_after=spec.window_after, cre_number=spec.cre_number,
        strata=list(spec.strata),
    )
    for kit in spec.kit:
        tp.kit.append(KitItem(
            sample_type=types[kit.sample_type],
            container_type=containers[kit.container] if kit.container else None,
            volume=kit.volume, unit=kit.unit, processing=kit.processing, optional=kit.optional,
            yields=[{"sample_type": y.sample_type, "aliquots": y.aliquots, "volume": y.volume}
                    for y in kit.yields],
        ))
    return tp


def _amount(text: str | None) -> tuple[float | None, str | None]:
    """Split a validated protocol amount ('0.5 ml') into value and unit."""
    if not text:
        return None, None
    value, unit = text.split()
    return float(value), unit


def get_study(session: Session, code: str | None = None) -> Study:
    """Return the study with ``code``, or the only study when no code is given."""
    if code is not None:
        study = session.scalar(select(Study).where(Study.code == code))
    else:
        study = session.scalar(select(Study).order_by(Study.id).limit(1))
    if study is None:
        raise NotFound(f"no study {code!r} is installed" if code
                       else "no study is installed; run 'lims demo'")
    return study


def timepoint_by_code(study: Study, code: str) -> TimePoint:
    """Return the study's time point with ``code``."""
    for tp in study.timepoints:
        if tp.code == code:
            return tp
    raise NotFound(f"study {study.code} has no time point {code!r}")


STUDY_CODE_KINDS = ("stratum", "sample_type", "container", "timepoint")


def study_names(study: Study | None) -> dict[tuple[str, str], str]:
    """Return the protocol's name of each study code, keyed by (kind, code): what pages show for CCR_WW."""
    if study is None:
        return {}
    names: dict[tuple[str, str], str] = {}
    names.update({("stratum", s.code): s.name for s in study.strata})
    names.update({("sample_type", t.code): t.name for t in study.sample_types})
    names.update({("container", c.code): c.name for c in study.containers})
    names.update({("timepoint", t.code): t.name for t in study.timepoints})
    return names
