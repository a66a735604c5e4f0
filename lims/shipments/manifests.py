"""Signed shipment manifests: write one for a released shipment, read and import another installation's.

A manifest is JSON: ``content`` (the shipment and its items), ``sha256`` of the content's canonical JSON,
and ``signature``: the sending installation's Ed25519 signature of that canonical JSON with the key id
(fingerprint) of its key. Import checks, in this order, and refuses with the reason at the first failing step:
the file is JSON of bounded size; it is signed by a key an admin registered here and not revoked, and the
signature verifies; every field is valid (:mod:`lims.shipments.manifest_schemas`); the CSV checksum matches
the items; the study and sites exist; and every item naming a sample registered here agrees with it on
participant, sample type and parent. Nothing is written before all of that passed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import access
from lims.accounts.models import User
from lims.core import audit
from lims.core.errors import Conflict, DomainError
from lims.core.spreadsheet import csv_text
from lims.samples.models import Sample
from lims.shipments import keys, signing
from lims.shipments.manifest_schemas import (
    MANIFEST_FORMAT,
    UNSIGNED_FORMATS,
    ManifestContentSchema,
    ManifestSchema,
    Problem,
    problems_from,
)
from lims.shipments.models import ManifestKey, Shipment, ShipmentItem
from lims.studies.models import Site, Study

MAX_MANIFEST_BYTES = 8 * 1024 * 1024
CSV_FIELDS = ("accession", "participant", "sample_type", "parent", "quantity", "unit", "box", "from_location")


class ManifestRefused(DomainError):
    """A manifest that may not be imported, with every problem found (item, field, value, reason)."""

    status = 422

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        lead = f"{source}: " if source else ""
        super().__init__(f"{lead}manifest refused, nothing was imported: {shown}{more}", field="manifest")
        self.problems = problems
        self.source = source


def _refuse(field: str, reason: str, **kwargs: Any) -> ManifestRefused:
    return ManifestRefused([Problem(field, reason, **kwargs)])


# ----- writing ----------------------------------------------------------------------------------------
def canonical(content: Any) -> bytes:
    """Return the canonical JSON bytes of ``content``: what is hashed and signed."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _quantity_text(quantity: float | None) -> str:
    return "" if quantity is None else f"{quantity:.15g}"


def items_csv(items: list[dict[str, Any]]) -> str:
    """Return manifest items as CSV, one row per sample (the file ``csv_sha256`` vouches for); cells a
    spreadsheet would evaluate are neutralised, as in every CSV Trialbank writes."""
    return csv_text(CSV_FIELDS, (["" if item[f] is None else item[f] for f in CSV_FIELDS[:4]]
                                 + [_quantity_text(item["quantity"]), item["unit"], item["box"] or "",
                                    item["from_location"] or ""] for item in items), lineterminator="\n")


def _item(item: ShipmentItem) -> dict[str, Any]:
    return {"accession": item.accession, "participant": item.participant_code,
            "sample_type": item.sample_type_code,
            "parent": item.parent_accession, "quantity": item.quantity, "unit": item.unit,
            "box": item.box_barcode,
            "from_location": item.from_location}


def manifest_csv(shipment: Shipment) -> str:
    """Return the shipment's items as CSV (one row per sample)."""
    return items_csv([_item(i) for i in shipment.items])


def manifest_content(shipment: Shipment, *, instance: str) -> dict[str, Any]:
    """Return what the manifest of a released shipment says (the part that is hashed and signed)."""
    if shipment.status == "draft":
        raise Conflict(f"shipment {shipment.code} is not released yet; release it to export its manifest")
    items = [_item(i) for i in shipment.items]
    return {
        "format": MANIFEST_FORMAT,
        "instance": instance if shipment.origin == "local" else shipment.origin,
        "study": shipment.study.code,
        "shipment": {
            "code": shipment.code, "from_site": shipment.from_site.code,
            "to_site": shipment.to_site.code if shipment.to_site else None,
            "destination": shipment.destination,
            "conditions": shipment.conditions, "courier": shipment.courier,
            "tracking_number": shipment.tracking_number,
            "released_at": shipment.released_at.isoformat() if shipment.released_at else None,
            "released_by": shipment.released_by.username if shipment.released_by else None,
        },
        "items": items,
        "csv_sha256": hashlib.sha256(items_csv(items).encode("utf-8")).hexdigest(),
    }


def content_sha256(shipment: Shipment, *, instance: str) -> str:
    """Return the SHA-256 of the manifest content (kept on the shipment when it is released)."""
    return hashlib.sha256(canonical(manifest_content(shipment, instance=instance))).hexdigest()


def manifest(shipment: Shipment, *, instance: str, key: signing.InstallationKey) -> dict[str, Any]:
    """Return the signed manifest: content, its SHA-256, and this installation's signature of it."""
    content = manifest_content(shipment, instance=instance)
    data = canonical(content)
    return {"content": content, "sha256": hashlib.sha256(data).hexdigest(),
            "signature": {"algorithm": signing.ALGORITHM, "key_id": key.fingerprint, "value": key.sign(data)}}


# ----- reading ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifiedManifest:
    """A manifest whose signature verified and whose every field is valid."""

    content: dict[str, Any]
    key: ManifestKey
    sha256: str


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:  # JSON readers disagree on which one wins: a signed file must not be ambiguous
            raise ValueError(f"the key {key[:40]!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def parse(raw: bytes | str) -> Any:
    """Read the bytes of a manifest file as JSON (at most MAX_MANIFEST_BYTES, UTF-8, no repeated keys)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _refuse("file",
                      f"is larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MB; no manifest is that big")
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise _refuse("file", f"is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise _refuse("file", "is nested too deeply to be a manifest") from None
    except ValueError as exc:  # JSONDecodeError, repeated keys, integers too long to read
        raise _refuse("file", f"is not valid JSON: {exc}") from None


def _envelope(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _refuse("manifest",
                      f"must be a JSON object with content, sha256 and signature, not {type(doc).__name__}")
    content = doc.get("content")
    if doc.get("signature") is None:
        version = content.get("format") if isinstance(content, dict) else None
        if version in UNSIGNED_FORMATS:
            raise _refuse("signature",
                          f"{version} manifests are not signed and are no longer accepted; ask the "
                                       f"sender to export the manifest again ({MANIFEST_FORMAT}, signed)")
        raise _refuse("signature",
                      "the manifest is not signed; only manifests signed by a registered partner "
                                   "installation are imported")
    try:
        return ManifestSchema().load(doc)
    except ValidationError as exc:
        raise ManifestRefused(problems_from(exc, doc)) from None


def _trusted_key(session: Session, signature: dict[str, Any], *, own_fingerprint: str | None) -> ManifestKey:
    key_id = signature["key_id"]
    if key_id == own_fingerprint:
        raise Conflict("this manifest was signed by this installation; receive the shipment directly",
                       field="manifest")
    key = keys.key_by_fingerprint(session, key_id)
    if key is None:
        reason = ("signed by a key this installation does not trust (key id "
                  f"{signing.grouped(key_id)[:19]}…); an admin must first register the sending "
                  "installation's public key")
    elif key.revoked_at is not None:
        reason = (f"signed by the key of {key.installation} that was revoked on {key.revoked_at:%Y-%m-%d}; "
                  "ask the sender to sign it with their new key")
    else:
        return key
    _record_refusal(session, reason, key_id, key)
    raise _refuse("signature", reason)


def _record_refusal(session: Session, reason: str, key_id: str, key: ManifestKey | None) -> None:
    """Keep a refused signature in the audit trail even though the import rolls back (it may be an attack)."""
    audit.record_security(session, "manifest_refused", object_type="manifest_key",
                          object_id=key.id if key is not None else None, detail=f"{reason} [key id {key_id}]")


def verify(session: Session, raw: bytes | str, *, own_fingerprint: str | None = None) -> VerifiedManifest:
    """Parse a manifest file, check its signature against the registered keys and validate every field."""
    envelope = _envelope(parse(raw))
    content, signature = envelope["content"], envelope["signature"]
    key = _trusted_key(session, signature, own_fingerprint=own_fingerprint)
    try:
        data = canonical(content)
    except (UnicodeEncodeError, ValueError, RecursionError):
        raise _refuse("content", "holds text that is not valid Unicode or is nested too deeply") from None
    if not signing.verify(keys.public_raw(key), data, signature["value"]):
        reason = (f"the signature does not verify with the key of {key.installation}: the manifest was "
                  "changed after it was signed, or damaged; ask the sender for it again")
        _record_refusal(session, reason, key.fingerprint, key)
        raise _refuse("signature", reason)
    actual = hashlib.sha256(data).hexdigest()
    if actual != envelope["sha256"]:
        raise _refuse("sha256", f"does not match the content (the content hashes to {actual[:12]}…)",
                      value=repr(envelope["sha256"][:12] + "…"))
    try:
        loaded = ManifestContentSchema().load(content)
    except ValidationError as exc:
        raise ManifestRefused(problems_from(exc, content, prefix=())) from None
    if loaded["instance"] != key.installation:
        raise _refuse("instance",
                      f"the manifest says it comes from {loaded['instance']!r} but is signed with the "
                                  f"key registered for {key.installation!r}", value=repr(loaded["instance"]))
    csv_sha = hashlib.sha256(items_csv(loaded["items"]).encode("utf-8")).hexdigest()
    if csv_sha != loaded["csv_sha256"]:
        raise _refuse("csv_sha256",
                      f"does not match the items (their CSV hashes to {csv_sha[:12]}…): the item "
                                    "list and its CSV disagree", value=repr(loaded["csv_sha256"][:12] + "…"))
    return VerifiedManifest(loaded, key, actual)


# ----- importing --------------------------------------------------------------------------------------
def _site(session: Session, code: str | None, field: str, problems: list[Problem]) -> Site | None:
    if not code:
        return None
    site = session.scalar(select(Site).where(Site.code == code.strip().upper()))
    if site is None:
        problems.append(Problem(field, "no such site here", value=repr(code)))
    return site


def _local_samples(session: Session, accessions: list[str]) -> dict[str, Sample]:
    found: dict[str, Sample] = {}
    for start in range(0, len(accessions), 1000):
        chunk = accessions[start:start + 1000]
        found.update((s.accession or "", s)
                     for s in session.scalars(select(Sample).where(Sample.accession.in_(chunk))))
    return found


def _link_problems(study: Study, items: list[dict[str, Any]], local: dict[str, Sample]) -> list[Problem]:
    """Check that every item naming a sample registered here describes that sample (else no link is made)."""
    problems = []
    for n, item in enumerate(items, start=1):
        sample = local.get(item["accession"])
        if sample is None:
            continue
        here = {"participant": sample.participant.code, "sample_type": sample.sample_type.code,
                "parent": sample.parent.accession if sample.parent else None}
        if sample.study_id != study.id:
            problems.append(Problem("accession", "this sample is registered here in another study", item=n,
                                    accession=item["accession"]))
            continue
        for field, value in here.items():
            if item[field] != value:
                problems.append(Problem(field,
                                        f"the sample registered here has {value or 'no parent'}; the link "
                                               "would join two different samples", item=n,
                                        accession=item["accession"], value=repr(item[field])))
    return problems


def import_manifest(session: Session, raw: bytes | str, *, by: User | None, instance: str,
                    own_fingerprint: str | None = None, source: str | None = None) -> Shipment:
    """Create, from another installation's signed manifest, the released shipment this installation will
    receive.

    ``source`` (the file name) prefixes the reasons of a refusal.
    """
    try:
        return _import(session, raw, by=by, instance=instance, own_fingerprint=own_fingerprint)
    except ManifestRefused as exc:
        if source is None:
            raise
        raise ManifestRefused(exc.problems, source=source) from None


def _import(session: Session, raw: bytes | str, *, by: User | None, instance: str,
            own_fingerprint: str | None) -> Shipment:
    verified = verify(session, raw, own_fingerprint=own_fingerprint)
    content, info = verified.content, verified.content["shipment"]
    origin = content["instance"]
    if origin == instance:
        raise Conflict(f"manifest {info['code']} was made by this installation; receive the shipment "
                       "directly",
                       field="manifest")
    if session.scalar(select(Shipment.id).where(Shipment.code == info["code"], Shipment.origin == origin)):
        raise Conflict(f"shipment {info['code']} from {origin} was already imported", field="manifest")
    problems: list[Problem] = []
    study = session.scalar(select(Study).where(Study.code == content["study"]))
    if study is None:
        problems.append(Problem("study", "this study is not installed here", value=repr(content["study"])))
    source = _site(session, info["from_site"], "shipment.from_site", problems)
    target = _site(session, info["to_site"], "shipment.to_site", problems)
    local = _local_samples(session, [i["accession"] for i in content["items"]])
    if study is not None:
        problems += _link_problems(study, content["items"], local)
    if problems or study is None or source is None:
        raise ManifestRefused(problems)
    if target is not None:  # the shipment arrives at a site: only that site's staff take it in
        access.require_site(by, target, "receiving this shipment")
    shipment = Shipment(
        code=info["code"], origin=origin, study_id=study.id, from_site_id=source.id,
        to_site_id=target.id if target else None, destination=info["destination"], status="released",
        conditions=info["conditions"], courier=info["courier"], tracking_number=info["tracking_number"],
        created_by_id=by.id if by else None, released_at=info["released_at"], manifest_sha256=verified.sha256,
        manifest_key_id=verified.key.id, unexpected=[], note=f"imported from {origin}",
    )
    for item in content["items"]:
        sample = local.get(item["accession"])
        shipment.items.append(ShipmentItem(
            accession=item["accession"], sample_id=sample.id if sample else None,
            participant_code=item["participant"],
            sample_type_code=item["sample_type"], parent_accession=item["parent"], quantity=item["quantity"],
            unit=item["unit"], box_barcode=item["box"], from_location=item["from_location"], state="packed"))
    session.add(shipment)
    session.flush()
    return shipment
