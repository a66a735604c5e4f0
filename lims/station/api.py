"""JSON endpoints of the scan station (the page uses them; so can instruments and scripts)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.permissions import permission_required
from lims.extensions import db
from lims.samples.accession import diagnose as diagnose_scan
from lims.station import service
from lims.station.schemas import (
    BatchResultSchema,
    BatchSchema,
    CheckSchema,
    DiagnoseSchema,
    DiagnosisSchema,
    ScanResultSchema,
    ScanSchema,
)

blp = Blueprint("station_api", __name__, description="Scan station: look up and act on scanned samples")


@blp.route("/lookup", methods=["POST"])
@permission_required("read")
@blp.arguments(ScanSchema)
@blp.response(200, ScanResultSchema)
def lookup(args: dict[str, Any]) -> Any:
    """Look a scanned code up: the sample's key facts and location; changes nothing."""
    return service.scan(db.session, args["code"], "lookup", user=current_user).to_dict()


@blp.route("/ping")
@permission_required("read")
@blp.response(200, ScanResultSchema)
def ping() -> Any:
    """Answer without touching samples: the baseline that scan latency is measured against."""
    return {"ok": True, "mode": "ping", "code": "", "message": "pong", "sample": None}


@blp.route("/scan", methods=["POST"])
@permission_required("station.act")
@blp.arguments(ScanSchema)
@blp.response(200, ScanResultSchema)
@blp.alt_response(409, description="Refused: status, consent or batch rule; nothing changed")
def scan(args: dict[str, Any]) -> Any:
    """Apply one action to one scanned sample."""
    return service.scan(db.session, args["code"], args["mode"], user=current_user,
                        text=args.get("text")).to_dict()


@blp.route("/check", methods=["POST"])
@permission_required("read")
@blp.arguments(CheckSchema)
@blp.response(200, ScanResultSchema)
@blp.alt_response(409, description="This scan cannot join the batch")
def check(args: dict[str, Any]) -> Any:
    """Check whether a scan may join a batch (unknown, wrong status, duplicate...); changes nothing."""
    return service.check(db.session, args["code"], args["mode"], user=current_user, text=args.get("text"),
                         batch=args.get("batch")).to_dict()


@blp.route("/batch", methods=["POST"])
@permission_required("station.act")
@blp.arguments(BatchSchema)
@blp.response(200, BatchResultSchema)
@blp.alt_response(409, description="At least one scan was refused; nothing changed")
def apply_batch(args: dict[str, Any]) -> Any:
    """Apply one action to a batch of scans in one transaction: all or nothing."""
    results = service.batch(db.session, args["codes"], args["mode"], user=current_user, text=args.get("text"))
    return {"applied": len(results), "results": [r.to_dict() for r in results]}


@blp.route("/diagnose", methods=["POST"])
@permission_required("read")
@blp.arguments(DiagnoseSchema)
@blp.response(200, DiagnosisSchema)
def diagnose(args: dict[str, Any]) -> Any:
    """Explain a test scan: every character in hex, suffix, AIM prefix, keyboard layout, what to change."""
    return diagnose_scan(args["text"], suffix=args.get("suffix"))
