"""A small multi-site trial for the access tests, built once per module inside one rolled-back transaction.

Sites ZJ and SX each get a participant with tubes (stored, packed, loose, shipped, awaiting disposal), a
participant who withdrew (quarantined tubes), storage (freezer > rack > boxes, a tank), a marker result,
a draft shipment to WZ, a released shipment from WZ and a received shipment (ZJ -> NB, stored at NB by the
NB technician; SX -> WZ), a label printer with a failed print job. Every user has an API token, a failed
background job and a session in another browser; a leaver (with a pending reset link) is there for the
administration pages, and a partner installation's manifest key is trusted. Every request of a test runs
inside a savepoint that is rolled back, so each one sees the same world; the module's transaction is rolled
back at the end.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lims.accounts.admin import issue_reset
from lims.accounts.models import User, UserSession
from lims.accounts.service import add_user, create_token
from lims.accounts.sessions import start_session
from lims.consent.withdrawal import withdraw_consent
from lims.disposal.service import request_disposal
from lims.extensions import db
from lims.jobs.models import Job
from lims.markers.models import MarkerResult
from lims.markers.service import save_marker
from lims.participants.service import enrol, plan_visits, record_consent
from lims.printing.models import PrintJob, PrintJobItem
from lims.printing.printers import create_printer
from lims.samples.models import Sample
from lims.shipments import keys, receiving
from lims.shipments import service as shipments
from lims.signatures.models import SignatureRun
from lims.storage.models import StorageUnit
from lims.storage.service import create_unit, place_sample
from lims.studies.models import Site
from lims.studies.service import get_study
from tests.conftest import PASSWORD, module_transaction, rolled_back
from tests.storage.conftest import make_tubes

# The roles of the permission table, each played by a user at ZJ when the role is site-bound.
ROLE_USERS = {
    "admin": "admin",
    "lab_manager": "rt_lab_manager",
    "technician": "technician",
    "data_manager": "data_manager",
    "researcher": "researcher",
    "pi": "pi",
    "monitor": "monitor",
}


@dataclass
class SiteObjects:
    """What one site has, as plain values (ids, codes, accessions) usable after the build session closed."""

    site: str
    participant: str = ""
    withdrawn: str = ""
    primary: str = ""  # the registered blood tube (processed into plasma)
    stored: str = ""  # in box A1, with a marker result
    packed: str = ""  # in box A2, packed in the draft shipment
    loose: str = ""  # collected, not stored yet
    shipped: str = ""  # travelled in the received shipment (ZJ: stored at NB since)
    arrived: str = ""  # travelled with it, not stored yet
    disposal: str = ""  # a disposal request is pending
    quarantined: str = ""  # its participant withdrew
    incoming_tube: str = ""  # in transit to this site (from WZ)
    freezer: int = 0
    rack: int = 0
    box: int = 0
    box2: int = 0
    tank: int = 0
    box_barcode: str = ""
    box2_barcode: str = ""
    rack_barcode: str = ""
    freezer_barcode: str = ""
    draft: int = 0  # site -> WZ, packed
    incoming: int = 0  # WZ -> site, released
    received: int = 0  # site -> NB (ZJ) or WZ (SX), received
    disposal_request: int = 0
    printer: int = 0  # a ZPL printer on the network
    print_job: int = 0  # a failed print job of the stored tube's label on that printer
    token: int = 0  # an API token id (the tests fill in the user's own, or somebody else's)
    job: int = 0  # a background job's id (likewise: the user's own, or somebody else's)
    session: int = 0  # a browser session's id (likewise)
    secrets: set[str] = field(default_factory=set)  # strings only this site's users may see


@dataclass
class World:
    zj: SiteObjects
    sx: SiteObjects
    nb_box: int
    nb_box_barcode: str
    marker: str
    results_run: int
    signature_run: int
    tokens: dict[str, str]  # username -> bearer secret
    token_ids: dict[str, int]  # username -> token id
    job_ids: dict[str, int]  # username -> a failed self-test job they asked for
    session_ids: dict[str, int]  # username -> a session of theirs in another browser
    leaver: str  # a user for the administration pages to change
    reset_token: str  # the leaver's one-time password-reset link
    partner_key: int  # a partner installation's trusted manifest key


def _participant(session: Session, study: Any, site: Site, code: str, *, genetic: bool = True) -> Any:
    p = enrol(session, study, site=site, code=code, enrolled_on=date(2025, 1, 6), sex="M", age=61, ecog=0)
    record_consent(
        session,
        p,
        version="2.1",
        signed_on=date(2025, 1, 6),
        scopes={"MARKER_RESEARCH": True, "GENETIC_RESEARCH": genetic, "THIRD_PARTY_SHARING": True},
    )
    p.rt_start_on, p.eot_on = date(2025, 1, 20), date(2025, 2, 24)
    session.flush()
    plan_visits(session, p)
    return p


def _site(session: Session, code: str) -> Site:
    return session.scalar(select(Site).where(Site.code == code))


def _user(session: Session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _storage(session: Session, site: Site, tag: str, objects: SiteObjects) -> StorageUnit:
    freezer = create_unit(
        session, site=site, kind="freezer", name=f"{tag} freezer", barcode=f"{tag}-FRZ", set_temp_c=-80.0
    )
    rack = create_unit(
        session, site=site, kind="rack", name=f"{tag} rack", barcode=f"{tag}-RCK", parent=freezer
    )
    box = create_unit(
        session, site=site, kind="box", name=f"{tag} box", barcode=f"{tag}-BX1", parent=rack, rows=3, cols=3
    )
    box2 = create_unit(
        session,
        site=site,
        kind="box",
        name=f"{tag} box two",
        barcode=f"{tag}-BX2",
        parent=rack,
        rows=2,
        cols=2,
    )
    tank = create_unit(
        session, site=site, kind="ln2_tank", name=f"{tag} tank", barcode=f"{tag}-LN2", set_temp_c=-190.0
    )
    objects.freezer, objects.rack, objects.box, objects.box2, objects.tank = (
        freezer.id,
        rack.id,
        box.id,
        box2.id,
        tank.id,
    )
    objects.box_barcode, objects.box2_barcode, objects.rack_barcode = box.barcode, box2.barcode, rack.barcode
    objects.freezer_barcode = freezer.barcode
    objects.secrets |= {f"{tag}-FRZ", f"{tag}-RCK", f"{tag}-BX1", f"{tag}-BX2", f"{tag}-LN2"}
    return box


def _printing(
    session: Session, site: Site, tag: str, stored: Sample, objects: SiteObjects, by: User
) -> None:
    """A printer at ``site`` (nothing listens at its address), a failed job with the stored tube's label."""
    printer = create_printer(
        session,
        site=site,
        by=by,
        name=f"{tag} printer",
        connection="tcp",
        language="zpl",
        host="127.0.0.1",
        port=9,
        stock="50x25",
        dpi=300,
    )
    job = PrintJob(
        printer_id=printer.id,
        subject="samples",
        status="failed",
        label_count=1,
        created_by_id=by.id,
        error="connection refused",
        attempts=1,
    )
    job.items = [PrintJobItem(position=1, sample_id=stored.id)]
    session.add(job)
    session.flush()
    objects.printer, objects.print_job = printer.id, job.id
    objects.secrets.add(f"{tag} printer")


def _build_site(
    session: Session, study: Any, code: str, tech: User, admin: User
) -> tuple[SiteObjects, list[Sample]]:
    objects = SiteObjects(site=code)
    site = _site(session, code)
    p = _participant(session, study, site, f"{code}-RT1")
    w = _participant(session, study, site, f"{code}-RTW")
    blood, tubes = make_tubes(session, study, p, tech, count=6)
    _wblood, wtubes = make_tubes(session, study, w, tech, count=1)
    box = _storage(session, site, f"R{code}", objects)
    for tube in (tubes[0], tubes[1], tubes[3], tubes[5]):
        place_sample(session, tube, box, by=admin)
    withdraw_consent(session, w, on=date(2025, 3, 1), reason="participant request", by=admin)
    objects.disposal_request = request_disposal(session, tubes[4], reason="tube cracked", by=admin).id
    objects.participant, objects.withdrawn, objects.primary = p.code, w.code, blood.accession
    objects.stored, objects.packed, objects.loose = tubes[0].accession, tubes[1].accession, tubes[2].accession
    objects.shipped, objects.disposal, objects.quarantined = (
        tubes[3].accession,
        tubes[4].accession,
        wtubes[0].accession,
    )
    objects.arrived = tubes[5].accession
    _printing(session, site, f"R{code}", tubes[0], objects, admin)
    objects.secrets |= {
        p.code,
        w.code,
        blood.accession,
        _wblood.accession,
        *(t.accession for t in tubes + wtubes),
    }
    return objects, tubes


def _ship(
    session: Session,
    study: Any,
    source: str,
    target: str,
    tubes: list[Sample],
    admin: User,
    *,
    release: bool = True,
    receiver: User | None = None,
) -> Any:
    shipment = shipments.create_shipment(
        session, study, from_site=source, to_site=target, conditions="dry_ice", by=admin
    )
    for tube in tubes:
        shipments.add_by_scan(session, shipment, tube.accession, by=admin)
    if release:
        shipments.release_shipment(session, shipment, by=admin, instance="access-tests",
                                   signature=(PASSWORD, "approved"))
    if receiver is not None:
        receiving.receive_shipment(session, shipment, scans=[t.accession for t in tubes], by=receiver)
    return shipment


def _runs(session: Session, study: Any, admin: User) -> tuple[int, int]:
    """Save an association run (computed on a synthetic frame) and a failed signature run (run pages)."""
    import numpy as np
    import pandas as pd

    from lims import __version__
    from lims.results import service as results
    from lims.results.data import dataset_sha256
    from lims.results.models import AnalysisRun
    from lims.results.parameters import check_parameters

    params = check_parameters(
        session,
        study,
        {
            "outcome": "os",
            "timepoint": "BASELINE",
            "sample_type": "CTDNA_PLASMA",
            "transform": "log2",
            "markers": "RT_MARKER",
        },
    )
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "participant_id": [f"ZJ-{i:03d}" for i in range(40)],
            "time": rng.uniform(30, 900, 40),
            "event": rng.integers(0, 2, 40),
            "age": rng.integers(40, 80, 40),
            "male": rng.integers(0, 2, 40),
            "ecog": rng.integers(0, 2, 40),
            "RT_MARKER": rng.lognormal(2, 0.5, 40),
        }
    )
    result = results.compute(frame, params)
    run = AnalysisRun(
        study_id=study.id,
        by_id=admin.id,
        by_username=admin.username,
        parameters=params,
        dataset_sha256=dataset_sha256(frame),
        dataset_rows=len(frame),
        n_markers=len(result),
        software_version=__version__,
        result=results._as_json(result, frame),
    )
    from lims.signatures import service as signatures

    failed = SignatureRun(
        study_id=study.id,
        by_id=admin.id,
        by_username=admin.username,
        status="failed",
        parameters=signatures.check_parameters(
            session,
            study,
            {
                "outcome": "pcr",
                "timepoint": "BASELINE",
                "sample_types": ["CTDNA_PLASMA"],
                "markers": ["RT_MARKER"],
            },
        ),
        error="too few participants with the outcome",
    )
    session.add_all([run, failed])
    session.flush()
    return run.id, failed.id


def build_world(session: Session) -> World:
    """Build the multi-site world (see the module docstring) and return its plain values."""
    study = get_study(session, "ESCC-WW")
    admin = _user(session, "admin")
    add_user(
        session,
        username="rt_lab_manager",
        password=PASSWORD,
        role="lab_manager",
        full_name="ZJ Lab Manager",
        site_codes=("ZJ",),
    )
    add_user(
        session,
        username="technician_sx",
        password=PASSWORD,
        role="technician",
        full_name="SX Technician",
        site_codes=("SX",),
    )
    tech_zj, tech_nb = _user(session, "technician"), _user(session, "technician_nb")
    zj, zj_tubes = _build_site(session, study, "ZJ", tech_zj, admin)
    sx, sx_tubes = _build_site(session, study, "SX", _user(session, "technician_sx"), admin)
    wz_p = _participant(session, study, _site(session, "WZ"), "WZ-RT1")
    _wz_blood, wz_tubes = make_tubes(session, study, wz_p, admin, count=2)
    wz_box = create_unit(
        session, site=_site(session, "WZ"), kind="box", name="RWZ box", barcode="RWZ-BX1", rows=3, cols=3
    )
    for tube in wz_tubes:
        place_sample(session, tube, wz_box, by=admin)
    # NB receives ZJ's shipment and stores the tube in an NB box.
    nb_box = create_unit(
        session, site=_site(session, "NB"), kind="box", name="RNB box", barcode="RNB-BX1", rows=3, cols=3
    )
    for objects, tubes, to, receiver in ((zj, zj_tubes, "NB", tech_nb), (sx, sx_tubes, "WZ", admin)):
        received = _ship(session, study, objects.site, to, [tubes[3], tubes[5]], admin, receiver=receiver)
        draft = _ship(session, study, objects.site, "WZ", [tubes[1]], admin, release=False)
        objects.received, objects.draft = received.id, draft.id
        objects.secrets |= {received.code, draft.code}
    place_sample(session, zj_tubes[3], nb_box, by=tech_nb)
    for objects, tube in ((zj, wz_tubes[0]), (sx, wz_tubes[1])):
        incoming = _ship(session, study, "WZ", objects.site, [tube], admin)
        objects.incoming, objects.incoming_tube = incoming.id, tube.accession
        objects.secrets |= {incoming.code}
    sx.secrets.add(wz_tubes[1].accession)
    marker = save_marker(
        session,
        {
            "code": "RT_MARKER",
            "name": "RT marker",
            "category": "cytokine",
            "unit": "pg/mL",
            "specimen_types": ["CTDNA_PLASMA"],
            "transform": "log2",
        },
    )
    for i, tube in enumerate((zj_tubes[0], sx_tubes[0])):
        session.add(MarkerResult(sample_id=tube.id, marker_id=marker.id, replicate=1, value=2.5 + i))
    session.flush()
    results_run, signature_run = _runs(session, study, admin)
    tokens, token_ids, job_ids, session_ids = {}, {}, {}, {}
    for username in (*ROLE_USERS.values(), "technician_nb", "technician_sx"):
        user = _user(session, username)
        token, secret = create_token(session, user, name="access tests")
        tokens[username], token_ids[username] = secret, token.id
        job = Job(kind="selftest", params={"seconds": 0}, status="failed", error="worker stopped",
                  attempts=1, max_attempts=1, created_by_id=user.id)
        session.add(job)
        start_session(session, user, method="password", user_agent="another browser")
        session.flush()
        job_ids[username] = job.id
        session_ids[username] = session.scalar(
            select(UserSession.id).where(UserSession.user_id == user.id).order_by(UserSession.id.desc())
        )
    leaver = add_user(
        session,
        username="rt_leaver",
        password=PASSWORD,
        role="technician",
        full_name="Leaver",
        site_codes=("SX",),
    )
    reset_token = issue_reset(session, leaver, by=admin)
    partner = keys.register_key(session, installation="partner-lab", public_key=_partner_key(), by=admin)
    return World(
        zj=zj,
        sx=sx,
        nb_box=nb_box.id,
        nb_box_barcode=nb_box.barcode,
        marker=marker.code,
        results_run=results_run,
        signature_run=signature_run,
        tokens=tokens,
        token_ids=token_ids,
        job_ids=job_ids,
        session_ids=session_ids,
        leaver=leaver.username,
        reset_token=reset_token,
        partner_key=partner.id,
    )


def _partner_key() -> str:
    """Return a new Ed25519 public key, base64 of its 32 raw bytes (a partner installation's)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


@dataclass
class Stage:
    """The module's world and a way to make requests that each roll back."""

    app: Flask
    connection: Any
    world: World
    clients: dict[str | None, FlaskClient]  # username (None: anonymous) -> a client logged in with a cookie

    def request(
        self,
        username: str | None,
        method: str,
        path: str,
        *,
        bearer: bool = False,
        fresh: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Make one request as ``username`` (cookie session, or its API token) and roll its changes back.

        ``fresh``: use a new client logged in for this request only (logging out must not end the module's).
        """
        client = self.clients[None] if bearer else self.clients[username]
        headers = dict(kwargs.pop("headers", {}) or {})
        if bearer and username is not None:
            headers["Authorization"] = f"Bearer {self.world.tokens[username]}"
        with rolled_back(self.connection):
            if fresh:
                client = self.app.test_client()
                client.post("/login", data={"username": username, "password": PASSWORD})
            return client.open(path, method=method, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def stage(app: Flask, engine: Engine) -> Iterator[Stage]:
    """Build the world once for the module; every request of the module rolls back to it."""
    runner = app.config.get("SIGNATURE_RUNNER")
    app.config["SIGNATURE_RUNNER"] = "inline"  # a queued run is computed in the request, never in a thread
    try:
        with module_transaction(app, engine) as conn:
            with app.app_context():
                world = build_world(db.session)
                db.session.commit()  # releases the session's savepoint: the world stays in the module
            clients: dict[str | None, FlaskClient] = {None: app.test_client()}
            for username in (*ROLE_USERS.values(), "technician_nb", "technician_sx"):
                client = app.test_client()
                response = client.post("/login", data={"username": username, "password": PASSWORD})
                assert response.status_code == 302, response.get_data(as_text=True)
                clients[username] = client
            yield Stage(app, conn, world, clients)
    finally:
        app.config["SIGNATURE_RUNNER"] = runner
