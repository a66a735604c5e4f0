"""The trial readout's figures: KM curves by stratum or arm, cumulative incidence, participant flow, the arm
forest plot and QoL over time, each drawn once per version of the data it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from lims.results import data, figures, publication
from lims.results.readout import (
    CURVES,
    READS,
    curve_frame,
    landmark_days,
    qol_schedule,
    qol_tables,
    stratum_names,
    survival,
)
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def curve(session: Session, study: Study, name: str) -> tuple[pd.DataFrame, str]:
    """Return the frame (time, event, stratum) and title of one readout KM figure (``CURVES``).

    OS and EFS by stratum start at the stratum landmark (time since the landmark); the arm comparisons at
    randomisation.
    """
    from analysis.clinical_tables import RANDOMISED_STRATA

    prefix, title = CURVES[name]
    variant = {"dfs_a": "A", "dfs_b": "B"}.get(name, str((study.settings or {}).get("dfs_variant", "A")))
    derived = data.derived(session, study, variant)
    if name in ("os", "efs"):
        frame = survival(derived, prefix, landmark_days(study)).frame
        return frame[["participant_id", "time", "event", "stratum"]], title
    frame = curve_frame(derived, prefix)
    return frame[frame["stratum"].isin(RANDOMISED_STRATA)].reset_index(drop=True), title


FIGURES = ("cif", "flow", "forest")


def figure(session: Session, study: Study, name: str) -> Figure | None:
    """Return one readout figure by name (``CURVES``, ``FIGURES`` or ``qol``), or None when there is nothing
    to draw."""
    names = stratum_names(study)
    if name in CURVES:
        frame, title = curve(session, study, name)
        if frame.empty:
            return None
        origin = f"the landmark (day {landmark_days(study):g} after enrolment)" if name in ("os", "efs") \
            else "randomisation"
        return figures.readout_curve(frame, title, names, origin)
    if name == "qol":
        qol = qol_tables(session, study)
        order = qol_schedule(data.study_tables(session, study), study)
        return figures.qol_over_time(qol, order, names) if qol else None
    if name not in FIGURES:
        return None
    tables = data.study_tables(session, study)
    main = data.derived(session, study, str((study.settings or {}).get("dfs_variant", "A")))
    if name == "cif":
        frame, ci, _at = publication.cumulative_incidence(tables, main)
        return None if ci is None else figures.cumulative_incidence(frame, names)
    if name == "flow":
        values = data.marker_values(session, study)
        order = publication.schedule_order(values, {tp.code: tp.order for tp in study.timepoints})
        return figures.flow(publication.flow(tables, main, names), publication.availability(values, order))
    arm = publication.arm_cox(main)
    return None if arm.fit is None else figures.arm_forest(arm.fit, names, publication.ARM_COVARIATES)


def figure_bytes(session: Session, study: Study, name: str, fmt: str, *, publication: bool) -> bytes | None:
    """Return one readout figure (``figure``) drawn in ``fmt``, drawn once per version of the data it
    shows."""

    def draw() -> bytes | None:
        fig = figure(session, study, name)
        return None if fig is None else figures.render(fig, fmt, publication=publication)

    return data.cached(session, READS, ("figure", study.id, repr(study.settings), name, fmt, publication),
                       draw)
