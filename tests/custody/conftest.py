"""Custody fixtures: samples to chain, a per-test anchor file, and what an attacker with DDL rights does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from lims.samples.models import Sample


def drop_custody_guard(session: Session) -> None:
    """Do what an attacker with DDL rights would: drop every custody trigger (undone with the test)."""
    if session.get_bind().dialect.name == "postgresql":
        for function in ("custody_event_append_only", "custody_append_only", "custody_chain_forward_only"):
            session.execute(text(f"DROP FUNCTION IF EXISTS {function}() CASCADE"))
        return
    names = session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE "
                                 "'custody%'"))
    for name in list(names):
        session.execute(text(f'DROP TRIGGER "{name}"'))


@pytest.fixture(autouse=True)
def anchor_file(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test anchors into its own file (checkpoints roll back with the test; the file would not)."""
    path = tmp_path / "custody-anchors.log"
    monkeypatch.setitem(app.config, "CUSTODY_ANCHOR_FILE", str(path))
    return path


@pytest.fixture()
def make_sample(session: Session, study: Any, make_participant: Callable[..., Any]) -> Callable[[], Sample]:
    """Return a factory of saved primary blood samples (one participant for all)."""
    participant = make_participant()
    blood = next(t for t in study.sample_types if t.code == "WHOLE_BLOOD")
    counter = {"n": 0}

    def _make() -> Sample:
        counter["n"] += 1
        s = Sample(accession=f"TB-CUST-{counter['n']}", study_id=study.id, participant_id=participant.id,
                   sample_type_id=blood.id, derivation="primary", status="collected", quantity=10.0,
                   unit="ml",
                   site_id=participant.site_id)
        session.add(s)
        session.flush()
        return s

    return _make
