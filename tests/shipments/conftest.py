"""Shipment fixtures: plasma tubes stored in a box at NB, ready to ship to ZJ (the central lab); two
installations with their own manifest keys, and helpers to make, alter and re-sign manifests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lims.core.models import AuditEvent
from lims.shipments import manifests, service, signing
from lims.shipments.models import Shipment, ShipmentItem
from lims.storage.service import place_sample
from tests.conftest import PASSWORD
from tests.storage.conftest import Lab, make_lab


@pytest.fixture()
def nb_lab(session, study, make_participant, user) -> Lab:
    lab = make_lab(session, study, make_participant, user, site_code="NB", tag="N")
    tech = user("technician_nb")
    for tube in lab.tubes[:5]:
        place_sample(session, tube, lab.box, by=tech)
    return lab


@pytest.fixture()
def zj_lab(session, study, make_participant, user) -> Lab:
    return make_lab(session, study, make_participant, user, site_code="ZJ", tag="Z")


@dataclass
class Installation:
    """One Trialbank installation: its name and its own key file (in its own instance folder)."""

    name: str
    key_file: Path
    key: signing.InstallationKey

    def sign(self, content: Any, *, sha256: str | None = None) -> dict[str, Any]:
        """Return a manifest document of ``content`` signed with this installation's key."""
        data = manifests.canonical(content)
        return {"content": content, "sha256": sha256 or hashlib.sha256(data).hexdigest(),
                "signature": {"algorithm": "ed25519", "key_id": self.key.fingerprint,
                              "value": self.key.sign(data)}}


def make_installation(folder: Path, name: str) -> Installation:
    path = folder / signing.KEY_FILE_NAME
    return Installation(name, path, signing.load_or_create(path, create=True))


@pytest.fixture()
def nb_site(tmp_path: Path) -> Installation:
    """The sending installation (its instance folder and key)."""
    return make_installation(tmp_path / "nb-instance", "nb-site")


@pytest.fixture()
def zj_central(tmp_path: Path) -> Installation:
    """The receiving installation."""
    return make_installation(tmp_path / "zj-instance", "zj-central")


@pytest.fixture()
def run_as(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Switch the app to one installation (its name and key file): two installations in one test."""

    def switch(installation: Installation) -> None:
        monkeypatch.setitem(app.config, "INSTANCE_NAME", installation.name)
        monkeypatch.setitem(app.config, "MANIFEST_KEY_FILE", str(installation.key_file))

    return switch


@pytest.fixture()
def released(session, study, nb_lab, user, nb_site) -> Shipment:
    """A shipment of five NB plasma tubes to ZJ, released by the NB installation."""
    manager = user("lab_manager")
    shipment = service.create_shipment(session, study, from_site="NB", to_site="ZJ",
                                       conditions="ln2_dry_shipper",
                                       courier="World Courier", tracking_number="WC-1",
                                       by=user("technician_nb"))
    service.add_by_scan(session, shipment, nb_lab.box.barcode, by=manager)
    service.release_shipment(session, shipment, by=manager, instance=nb_site.name,
                             signature=(PASSWORD, "approved"))
    return shipment


def counts(session) -> tuple[int, int, int]:
    """Rows in shipment, shipment_item and audit_event: a refused import changes none of them."""
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) or 0  # type: ignore[return-value]
                 for m in (Shipment, ShipmentItem, AuditEvent))


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode("utf-8")
