"""Readable names for the codes and field names the code uses: the one place pages and messages ask.

A status is stored as ``checked_out`` and a form field is called ``precentrifugation_temp_c``; a person reads
"checked out" and "temperature before centrifugation". Codes the study defines (strata, sample types,
containers, time points) take their names from the protocol: see the ``label`` template filter in
:mod:`lims.app`, which asks the study first and this module second.
"""

from __future__ import annotations

FIELDS: dict[str, str] = {
    "accession": "accession ID",
    "code": "scanned code",
    "codes": "scanned codes",
    "actual_on": "visit date",
    "collected_at": "collection time",
    "quantity": "amount",
    "volume": "amount per sample",
    "count": "number of samples",
    "unit": "unit",
    "yields": "products",
    "processing_started_at": "processing start (first spin)",
    "precentrifugation_temp_c": "temperature before centrifugation (°C)",
    "spin1_g": "first spin force (g)",
    "spin1_min": "first spin duration (min)",
    "spin1_temp_c": "first spin temperature (°C)",
    "spin1_brake": "first spin brake",
    "spin2_done": "second spin done",
    "spin2_g": "second spin force (g)",
    "spin2_min": "second spin duration (min)",
    "spin2_temp_c": "second spin temperature (°C)",
    "spin2_brake": "second spin brake",
    "last_spin_ended_at": "end of the last spin",
    "postspin_temp_c": "temperature after centrifugation (°C)",
    "frozen_at": "time placed in storage",
    "storage_temp_c": "storage temperature (°C)",
    "storage_container": "storage container",
    "storage_via_minus80": "stored at -80 °C before liquid nitrogen",
    "collection_type": "type of collection",
    "clamped_at": "vascular clamping (start of warm ischaemia)",
    "excised_at": "excision (end of warm ischaemia)",
    "fixation_started_at": "start of fixation or freezing (end of cold ischaemia)",
    "fixation_ended_at": "end of fixation",
    "fixation_type": "fixation type",
    "haemolysed": "haemolysed",
    "position": "position",
    "box": "box",
    "barcode": "barcode",
    "file": "file",
    "consume": "primary tube used up",
}

STATUSES: dict[str, str] = {
    "missed": "missed", "collected": "collected", "received": "received", "in_storage": "in storage",
    "checked_out": "checked out", "in_transit": "in transit", "consumed": "used up", "disposed": "disposed",
    "quarantined": "quarantined", "planned": "planned", "done": "done",
    "not_applicable": "not applicable", "draft": "being packed", "released": "released", "pending": "pending",
    "approved": "approved", "rejected": "rejected",
}

ACTIONS: dict[str, str] = {
    "lookup": "look up", "receive": "receive", "check_out": "check out", "check_in": "check in",
    "thaw": "thaw",
    "dispose": "dispose", "checked_out": "checked out", "checked_in": "checked in",
    "label_printed": "label printed",
    "shipment_received": "received from a shipment",
}

KINDS: dict[str, str] = {
    "ln2_tank": "liquid nitrogen tank", "block_cabinet": "block cabinet",
}

STORAGE_CONTAINERS: dict[str, str] = {
    "PP": "polypropylene tube", "CRYO": "cryotube", "PRIMARY": "primary container",
    "PARAFFIN": "paraffin block",
}

# SPREC solid-tissue codes (collection types and fixation), SPREC 2.0/3.0.
COLLECTION_TYPES: dict[str, str] = {
    "SRG": "surgical excision", "BPS": "biopsy", "ASN": "fine-needle aspirate", "BCM": "core biopsy",
    "PUN": "punch biopsy", "SWB": "swab", "ZZZ": "other",
}
FIXATIONS: dict[str, str] = {
    "NBF": "neutral buffered formalin", "SNP": "snap frozen", "OCT": "frozen in OCT", "RNL": "RNAlater",
    "PXT": "PAXgene tissue", "ALL": "alcohol-based fixative", "ZZZ": "other",
}

_TABLES: dict[str, dict[str, str]] = {
    "field": FIELDS, "status": STATUSES, "action": ACTIONS, "kind": KINDS,
    "storage_container": STORAGE_CONTAINERS,
    "collection_type": COLLECTION_TYPES, "fixation_type": FIXATIONS,
}


def humanise(code: str) -> str:
    """Turn an unknown code into words: ``CCR_WW`` -> 'ccr ww' is a last resort, never the first choice."""
    return code.replace("_", " ").strip().lower() if code.isupper() or "_" in code else code


def label(code: str | None, kind: str | None = None) -> str:
    """Return the readable name of ``code`` (of ``kind``: field, status, action, kind...), or the code in
    words."""
    if code is None:
        return ""
    text = str(code)
    tables = [_TABLES[kind]] if kind in _TABLES else list(_TABLES.values())
    for table in tables:
        if text in table:
            return table[text]
    return humanise(text)


def field_label(name: str | None) -> str:
    """Return the readable name of a form or API field ('precentrifugation_temp_c' -> its label)."""
    if not name or name == "form":
        return ""
    base = name.split("-")[-1] if "-" in name else name
    return FIELDS.get(name) or FIELDS.get(base) or humanise(base)


def problem_text(field: str | None, message: str) -> str:
    """Return 'readable field: message', or just the message when the field adds nothing ('form')."""
    name = field_label(field)
    return f"{name}: {message}" if name and not message.lower().startswith(name.lower()) else message
