"""Rules the database itself enforces, whatever the Python code does."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lims.config import DEFAULT_PROTOCOL
from lims.core.errors import integrity_message
from lims.samples.models import Sample
from lims.storage.models import Placement, StorageUnit
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol


def _sample(study, participant, accession: str, **kw) -> Sample:
    blood = next(t for t in study.sample_types if t.code == "WHOLE_BLOOD")
    values = {"accession": accession, "study_id": study.id, "participant_id": participant.id,
                  "sample_type_id": blood.id,
                  "derivation": "primary", "status": "collected", "quantity": 10.0, "unit": "ml",
                  "site_id": participant.site_id}
    values.update(kw)
    return Sample(**values)


def _flush_fails(session, *objects) -> str:
    session.add_all(objects)
    with pytest.raises(IntegrityError) as info, session.begin_nested():
        session.flush()
    return integrity_message(info.value)


def test_accession_ids_are_unique(session, study, make_participant) -> None:
    p = make_participant()
    session.add(_sample(study, p, "TB-DUP1"))
    session.flush()
    assert _flush_fails(session,
                        _sample(study, p, "TB-DUP1")) == "a sample with that accession ID already exists"


def test_one_sample_per_box_position(session, study, make_participant) -> None:
    p = make_participant()
    site = p.site
    box = StorageUnit(site_id=site.id, kind="box", name="Box T", barcode="T-BOX-1", rows=9, cols=9)
    a, b = _sample(study, p, "TB-POS1"), _sample(study, p, "TB-POS2")
    session.add_all([box, a, b])
    session.flush()
    session.add(Placement(sample_id=a.id, unit_id=box.id, row=1, col=1))
    session.flush()
    message = _flush_fails(session, Placement(sample_id=b.id, unit_id=box.id, row=1, col=1))
    assert message == "that storage position already holds a sample"


def test_sample_of_a_participant_from_another_study_is_refused(session, study, make_participant,
                                                               tmp_path: Path) -> None:
    other_file = tmp_path / "other.toml"
    other_file.write_text(Path(DEFAULT_PROTOCOL).read_text().replace('code = "ESCC-WW"', 'code = "OTHER"', 1))
    other, _ = install_protocol(session, load_protocol(other_file))
    p = make_participant()
    wrong = _sample(study, p, "TB-XSTUDY")
    wrong.study_id = other.id
    wrong.sample_type_id = next(t.id for t in other.sample_types if t.code == "WHOLE_BLOOD")
    assert _flush_fails(session, wrong) in (
        "the participant does not belong to the sample's study",
        "the record refers to something that does not exist or belongs to another study",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "lost"), ("quantity", -1.0), ("unit", "litres"), ("freeze_thaw_count", -1),
     ("derivation", "clone")],
)
def test_check_constraints_on_samples(session, study, make_participant, field: str, value: object) -> None:
    p = make_participant()
    bad = _sample(study, p, f"TB-CK-{field[:8]}", **{field: value})
    assert _flush_fails(session, bad) == "a value is outside what the database allows"


@pytest.mark.parametrize("status", ["collected", "missed"])
def test_missed_sample_needs_a_reason_and_others_an_accession(session, study, make_participant,
                                                              status) -> None:
    p = make_participant()
    assert _flush_fails(session, _sample(study, p, None,
                                         status=status)) == "a value is outside what the database allows"


@pytest.mark.parametrize(("kind", "rows"), [("box", None), ("freezer", 2)])
def test_box_needs_a_grid_and_other_units_have_none(session, make_participant, kind, rows) -> None:
    site = make_participant().site
    unit = StorageUnit(site_id=site.id, kind=kind, name="U", barcode="U-1", rows=rows, cols=rows)
    assert _flush_fails(session, unit) == "a value is outside what the database allows"


def test_foreign_keys_are_enforced(session) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text("INSERT INTO placement (sample_id, unit_id, row, col) VALUES (999999, "
                             "999999, 1, 1)"))
