"""The samples of a marker export: one row of facts per sample (time point, type, SPREC, pre-analytics), which
samples the consents and the query let through, and what the results tell per sample, gathered block by block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lims import consent
from lims.markers.export_shapes import ord_day
from lims.markers.models import Marker, MarkerResult
from lims.participants.models import Participant, Visit
from lims.samples import sprec
from lims.samples.models import Sample
from lims.samples.presenters import SPREC_COLUMNS, preanalytics_of
from lims.studies.models import ContainerType, SampleType, Study, TimePoint

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lims.markers.export import ExportQuery

UNSCHEDULED = "UNSCHEDULED"
_SAMPLE_COLUMNS = frozenset({"id", "participant_id", "visit_id", "sample_type_id", "container_type_id",
                             "status", "freeze_thaw_count"})
_FRAME_COLUMNS = ["sample_id", "participant_pk", "timepoint", "sample_type", "sprec", "freeze_thaw_count",
                  "collection_ord", "frozen_ord", "processing_delay_h"]


def samples_frame(session: Session, marker_ids: list[int]) -> pd.DataFrame:
    """One row per sample that has a result of the selected markers, by ascending id: participant, time point,
    type and pre-analytics (the SPREC code alone: an export needs no explanation)."""
    import pandas as pd

    types = {t.id: t for t in session.scalars(select(SampleType))}
    containers = {c.id: c for c in session.scalars(select(ContainerType))}
    timepoints = dict(session.execute(
        select(Visit.id, TimePoint.code).join(TimePoint, TimePoint.id == Visit.timepoint_id)).all())
    table, results = Sample.__table__, MarkerResult.__table__
    has_result = exists().where(results.c.sample_id == table.c.id, results.c.marker_id.in_(marker_ids))
    columns = [c for c in table.c if c.name in _SAMPLE_COLUMNS or c.name in SPREC_COLUMNS]
    out = []
    for r in session.execute(select(*columns).where(has_result).order_by(table.c.id)).mappings():
        stype = types[r["sample_type_id"]]
        code = None if r["status"] == "missed" else sprec.derive(
            preanalytics_of(stype, containers.get(r["container_type_id"]), r.get))
        collected, started, frozen = r["collected_at"], r["processing_started_at"], r["frozen_at"]
        out.append((r["id"], r["participant_id"], timepoints.get(r["visit_id"], UNSCHEDULED), stype.code,
                    code, r["freeze_thaw_count"],
                    collected.date().toordinal() if collected else -1,
                    frozen.date().toordinal() if frozen else -1,
                    round((started - collected).total_seconds() / 3600, 2) if collected and started
                    else None))
    return pd.DataFrame(out, columns=_FRAME_COLUMNS)


@dataclass
class SampleFacts:
    """Per sample (ascending id, the order of ``frame``): its participant's position among the exported people
    (-1: none), whether consent lets its results out, whether the query keeps it, and its dates."""

    ids: np.ndarray
    frame: pd.DataFrame
    person: np.ndarray
    consented: np.ndarray
    keep: np.ndarray
    tp_rank: np.ndarray
    enrol_ord: np.ndarray
    collection_ord: np.ndarray
    collection_day: Any


def sample_facts(session: Session, study: Study, query: ExportQuery, people: list[Participant],
                 no_genetic: set[int], marker_ids: list[int]) -> SampleFacts:
    """Read the samples that have results of the selected markers; decide which of them the export keeps."""
    import numpy as np

    samples = samples_frame(session, marker_ids)
    sample_ids = samples["sample_id"].to_numpy(dtype=np.int64)
    person_pos = {p.id: i for i, p in enumerate(people)}  # people are ordered by code
    person = samples["participant_pk"].map(person_pos).fillna(-1).to_numpy(dtype=np.int64)
    consented = person >= 0
    if no_genetic:
        genetic = samples["sample_type"].isin(consent.genetic_types(study.settings)).to_numpy()
        consented &= ~(genetic & samples["participant_pk"].isin(no_genetic).to_numpy())
    keep = consented.copy()
    if query.timepoints:
        keep &= samples["timepoint"].isin(query.timepoints).to_numpy()
    if query.sample_types:
        keep &= samples["sample_type"].isin(query.sample_types).to_numpy()
    tp_rank = {tp.code: tp.order for tp in study.timepoints}
    enrol = np.array([p.enrolled_on.toordinal() for p in people], dtype=np.int64)
    enrol_ord = np.where(person >= 0, enrol[np.maximum(person, 0)] if len(people) else -1, -1)
    collection_ord = samples["collection_ord"].to_numpy(dtype=np.int64)
    return SampleFacts(ids=sample_ids, frame=samples, person=person, consented=consented, keep=keep,
                       tp_rank=samples["timepoint"].map(tp_rank).fillna(10**6).to_numpy(dtype=np.int64),
                       enrol_ord=enrol_ord, collection_ord=collection_ord,
                       collection_day=ord_day(collection_ord, enrol_ord))


class ResultTally:
    """Places each block of results (sample and marker positions), keeps the results the export lets out, and
    counts per sample what the sample columns need: results held back by consent, earliest assay date."""

    def __init__(self, facts: SampleFacts, markers: list[Marker], today: date) -> None:
        import numpy as np

        self.facts = facts
        self.marker_pos = np.full(max((m.id for m in markers), default=0) + 1, -1, dtype=np.int64)
        for i, m in enumerate(markers):
            self.marker_pos[m.id] = i
        self.today = today.toordinal()
        self.first_assay = np.full(len(facts.ids), self.today, dtype=np.int64)
        self.consent_dropped = 0

    def take(self, block: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The block's kept results, with ``sp`` (sample position) and ``mi`` (marker position) added."""
        import numpy as np

        ids, n = self.facts.ids, len(self.facts.ids)
        sp = np.searchsorted(ids, block["sample_id"])
        known = sp < n
        sp = np.where(known, sp, 0)
        if n:
            known &= ids[sp] == block["sample_id"]  # False: a sample that got results after the list was read
            consented, keep = known & self.facts.consented[sp], known & self.facts.keep[sp]
        else:
            consented = keep = known
        self.consent_dropped += int((known & ~consented).sum())
        out = {k: v[keep] for k, v in block.items()}
        out["sp"], out["mi"] = sp[keep], self.marker_pos[out["marker_id"]]
        assay = np.where(out["assay_ord"] < 0, self.today, out["assay_ord"])
        np.minimum.at(self.first_assay, out["sp"], assay)
        return out

    def preanalytics(self) -> dict[str, Any]:
        """Pre-analytical columns per sample position; storage time = earliest assay date of the sample's
        exported results (or today) - date frozen."""
        import numpy as np
        import pandas as pd

        samples = self.facts.frame
        frozen = samples["frozen_ord"].to_numpy(dtype=np.int64)
        storage = pd.arrays.IntegerArray(np.where(frozen < 0, 0, self.first_assay - frozen), frozen < 0)
        return {"sprec": samples["sprec"].to_numpy(dtype=object),
                "freeze_thaw_count": samples["freeze_thaw_count"].to_numpy(dtype=np.int64),
                "storage_days": storage,
                "processing_delay_h": samples["processing_delay_h"].to_numpy(dtype=np.float64)}


def empty_taken() -> dict[str, np.ndarray]:
    """The kept results of an export that read none."""
    import numpy as np

    ints = ("sample_id", "marker_id", "replicate", "assay_ord", "sp", "mi")
    return {**{name: np.zeros(0, dtype=np.int64) for name in ints}, "value": np.zeros(0),
            "qualifier": np.zeros(0, dtype=object)}
