"""The demo trial: a seeded, deterministic generator following shared/domain.md section 8.

One generator that grows with the product: this module builds the trial's participants, schedule
and samples; each later capability adds its part as a module of this package (``clinical``,
``markers``, ``shipments``...) with ``generate(ctx: DemoContext)``, called in ``PARTS`` order on
the same session and seeded random stream. ``load`` is idempotent: a database that already holds
the demo is left alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import secrets
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.accounts.service import add_user
from lims.core.audit import record as audit_record
from lims.core.audit import skip_data_audit
from lims.demo.context import DATA_CUT, DemoContext, Summary
from lims.demo.trial import TrialGenerator
from lims.participants.models import Participant
from lims.samples.models import Sample
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol

PARTS = ("storage", "clinical", "markers", "shipments", "labels")
DEMO_ROLES = {
    "admin": ("admin", "Ada Admin", ()),
    "labmanager": ("lab_manager", "Lin Labmanager", ("ZJ", "NB", "WZ", "SX")),
    "tech.zj": ("technician", "Tao Technician (ZJ)", ("ZJ",)),
    "tech.nb": ("technician", "Nina Technician (NB)", ("NB",)),
    "tech.wz": ("technician", "Wei Technician (WZ)", ("WZ",)),
    "tech.sx": ("technician", "Shu Technician (SX)", ("SX",)),
    "datamanager": ("data_manager", "Dana Datamanager", ()),
    "researcher": ("researcher", "Rui Researcher", ()),
    "pi": ("pi", "Pat Investigator", ()),
    "monitor": ("monitor", "Mo Monitor", ()),
}


def _credentials(instance_path: str) -> tuple[str, str]:
    """Return (path, password) of the demo logins, generating the password once per instance."""
    path = Path(instance_path) / "demo-credentials.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("password:"):
                return str(path), line.split(":", 1)[1].strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("Trialbank demo logins (generated for this instance; every user has the same password)\n")
        fh.write(f"password: {password}\n")
        for username, (role, _name, sites) in DEMO_ROLES.items():
            fh.write(f"user: {username:12s} role: {role:13s} sites: {','.join(sites) or 'all'}\n")
    return str(path), password


def load(session: Session, *, seed: int = 20261124, participants: int = 120, instance_path: str,
         protocol_path: str) -> Summary:
    """Load the demo trial into ``session`` (caller commits); a second run changes nothing."""
    protocol = load_protocol(protocol_path)
    skip_data_audit(session)  # a generated trial is one audited act, not thousands of row inserts
    study, _created = install_protocol(session, protocol)
    existing = session.scalar(select(func.count(Participant.id)).where(Participant.study_id == study.id)) or 0
    if existing:
        samples = session.scalar(select(func.count(Sample.id)).where(Sample.study_id == study.id)) or 0
        return Summary(created=False, participants=existing, samples=samples)
    cred_path, password = _credentials(instance_path)
    gen = TrialGenerator(session, study, seed)
    for username, (role, name, sites) in DEMO_ROLES.items():
        known = session.scalar(select(User).where(User.username == username))
        if known is None:
            user = add_user(session, username=username, password=password, role=role, full_name=name,
                            site_codes=sites)
            if role == "technician":
                gen.technicians[sites[0]] = user
        elif known.role == "technician" and known.sites:
            gen.technicians[known.sites[0].code] = known
    users = {u.username: u for u in session.scalars(select(User))}
    gen.storage()
    gen.participants(participants)
    gen.summary.participants = participants
    gen.summary.credentials_file = cred_path
    ctx = DemoContext(session=session, study=study, rng=np.random.default_rng(seed + 1), data_cut=DATA_CUT,
                      technicians=gen.technicians, users=users, summary=gen.summary,
                      instance_path=instance_path, password=password)
    for part in PARTS:
        name = f"lims.demo.{part}"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).generate(ctx)
            session.flush()
    from lims.custody.models import CustodyEvent

    gen.summary.custody_events = session.scalar(select(func.count(CustodyEvent.id))) or 0
    skip_data_audit(session, False)
    audit_record(session, "demo_loaded", detail=f"seed {seed}, {participants} participants")
    return gen.summary
