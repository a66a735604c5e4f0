"""Each sample's custody is its own keyed chain; the key lives in a file outside the database."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from lims.core.errors import DomainError
from lims.custody import chain, keys
from lims.custody.models import CustodyChain, CustodyEpoch
from lims.custody.service import history, record_event, verify_chain


def test_each_sample_has_its_own_chain(session, make_sample, user) -> None:
    tech = user("technician")
    a, b = make_sample(), make_sample()
    a1 = record_event(session, a.id, "collected", by=tech, site_code="ZJ")
    b1 = record_event(session, b.id, "collected", by=tech, site_code="ZJ")
    a2 = record_event(session, a.id, "stored", by=tech, to_location="ZJ-FRZ1-B001 A1")
    assert (a1.seq, b1.seq, a2.seq) == (1, 1, 2)
    assert a1.prev_mac == b1.prev_mac == chain.GENESIS and a2.prev_mac == a1.mac
    session.flush()
    fix = record_event(session, a.id, "correction", by=tech, corrects=a2, reason="wrong box scanned",
                       details={"to": "ZJ-FRZ1-B001 A2"})
    assert fix.corrects_id == a2.id and fix.seq == 3
    assert [e.action for e in history(session, a.id)] == ["collected", "stored", "correction"]
    session.flush()
    heads = {h.sample_id: (h.seq, h.mac, h.checkpoint_number) for h in session.scalars(select(CustodyChain))}
    assert heads == {a.id: (3, fix.mac, None), b.id: (1, b1.mac, None)}
    report = verify_chain(session)
    assert report.ok, [p.describe() for p in report.problems]
    assert (report.events, report.chains) == (4, 2)


def test_the_mac_is_keyed_with_the_key_file(app: Flask, session, make_sample) -> None:
    sample = make_sample()
    event = record_event(session, sample.id, "collected", by=None)
    keyring = keys.read_keyring(Path(app.instance_path) / "custody_key")
    content = chain.event_content(sample_id=sample.id, seq=1, epoch=event.epoch, action="collected",
                                  at=event.at,
                                  user_id=None, site_code=None, from_location=None, to_location=None,
                                  reason=None,
                                  details={}, corrects=None)
    expected = hmac.new(keyring.keys[event.epoch],
                        b"trialbank custody event v1\n" + chain.GENESIS.encode() + b"\n"
                        + content, hashlib.sha256).hexdigest()
    assert event.mac == expected
    assert event.mac != hashlib.sha256(chain.GENESIS.encode() + content).hexdigest()


def test_details_changed_by_the_caller_afterwards_do_not_break_the_seal(session, make_sample) -> None:
    details = {"box": "B1", "positions": (1, 2)}
    record_event(session, make_sample().id, "stored", by=None, details=details)
    details["box"] = "B2"
    session.flush()
    assert verify_chain(session).ok


def test_correction_must_name_its_event_and_actions_are_known(session, make_sample) -> None:
    sample = make_sample()
    with pytest.raises(DomainError, match="must name the event it corrects"):
        record_event(session, sample.id, "correction", by=None)
    with pytest.raises(DomainError, match="unknown custody action"):
        record_event(session, sample.id, "teleported", by=None)


def test_the_key_file_is_created_on_first_use_with_mode_600(app: Flask, session, make_sample, tmp_path,
                                                            monkeypatch) -> None:
    path = tmp_path / "secrets" / "custody_key"
    monkeypatch.setitem(app.config, "CUSTODY_KEY_FILE", str(path))
    record_event(session, make_sample().id, "collected", by=None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keyring = keys.read_keyring(path)
    epoch = session.get(CustodyEpoch, keyring.epoch)
    assert epoch.fingerprint == keys.fingerprint(keyring.key)


def test_a_bare_key_line_is_epoch_one(tmp_path) -> None:
    path = tmp_path / "mounted-secret"
    path.write_text("ab" * 32 + "\n")
    assert keys.read_keyring(path).keys == {1: bytes.fromhex("ab" * 32)}
    path.write_text("1 " + "ab" * 32 + "\nnot a key\n")
    with pytest.raises(DomainError, match="line 2: expected '<epoch> <64 hex digits>'"):
        keys.read_keyring(path)


def test_a_different_or_missing_key_file_is_refused_once_custody_exists(app: Flask, session, make_sample,
                                                                        tmp_path, monkeypatch) -> None:
    first = tmp_path / "first_key"
    monkeypatch.setitem(app.config, "CUSTODY_KEY_FILE", str(first))
    sample = make_sample()
    record_event(session, sample.id, "collected", by=None)
    session.flush()
    session.commit()  # a savepoint inside the test's transaction: the next event reads the key file again
    other = tmp_path / "other_key"
    monkeypatch.setitem(app.config, "CUSTODY_KEY_FILE", str(other))
    with pytest.raises(DomainError, match="is missing, but the database holds custody sealed with epoch"):
        record_event(session, sample.id, "stored", by=None)
    assert not other.exists()
    keys.create_keyring(other)
    with pytest.raises(DomainError, match="holds a different key for epoch 1"):
        record_event(session, sample.id, "stored", by=None)


def test_rotation_starts_a_new_epoch_and_old_events_still_verify(app: Flask, session, make_sample, tmp_path,
                                                                 monkeypatch) -> None:
    path = tmp_path / "custody_key"
    monkeypatch.setitem(app.config, "CUSTODY_KEY_FILE", str(path))
    sample = make_sample()
    old = record_event(session, sample.id, "collected", by=None)
    session.commit()
    keys.add_epoch(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    new = record_event(session, sample.id, "stored", by=None)
    session.flush()
    assert (old.epoch, new.epoch) == (1, 2) and new.prev_mac == old.mac
    assert session.get(CustodyEpoch, 2).fingerprint == keys.fingerprint(keys.read_keyring(path).keys[2])
    assert verify_chain(session).ok
    # Losing the old key's line makes the old epoch unverifiable, and verify says so.
    path.write_text(f"2 {keys.read_keyring(path).keys[2].hex()}\n")
    report = verify_chain(session)
    assert not report.ok
    assert any("sealed with epoch 1 cannot be checked" in p.message for p in report.problems)
