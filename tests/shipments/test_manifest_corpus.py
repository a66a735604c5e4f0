"""A corpus of malformed manifests (tests/shipments/manifests/): each is refused with a 4xx naming the file,
the item, the field and the reason, through the import page and the API alike, and nothing is written.

Files whose ``signature`` is the placeholder ``"SIGN"`` are signed at test time with a key the receiving
installation trusts (and ``"SHA256"`` becomes the content's hash), so their defects must be caught by the
checks after the signature: a trusted partner can still send a broken file.
"""

from __future__ import annotations

import base64
import io
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from lims.shipments import keys
from tests.shipments.conftest import Installation, counts

CORPUS = Path(__file__).parent / "manifests"
FILES = sorted(p.name for p in CORPUS.glob("*.json"))

# file -> (field, item number or None, words of the reason)
EXPECTED: dict[str, tuple[str, int | None, str]] = {
    "01_truncated_json.json": ("file", None, "is not valid JSON: Expecting value: line 1 column 58"),
    "02_latin1_bytes.json": ("file", None, "is not UTF-8 text"),
    "03_top_level_list.json": ("manifest", None, "must be a JSON object with content, sha256 and signature"),
    "04_unsigned.json": ("signature", None, "the manifest is not signed"),
    "05_format_1_unsigned.json": ("signature", None, "trialbank-manifest/1 manifests are not signed"),
    "06_signature_garbage.json": ("signature.algorithm", None, "Must be one of: ed25519"),
    "07_duplicate_keys.json": ("file", None, "appears twice in one object"),
    "08_deeply_nested.json": ("file", None, "nested too deeply"),
    "09_released_at_yesterday.json": ("shipment.released_at", None, "not an ISO 8601 date-time"),
    "10_released_at_without_zone.json": ("shipment.released_at", None, "has no time zone"),
    "11_released_at_in_3025.json": ("shipment.released_at", None, "not a plausible release time"),
    "12_released_at_30_february.json": ("shipment.released_at", None, "not an ISO 8601 date-time"),
    "13_released_at_hour_25.json": ("shipment.released_at", None, "not an ISO 8601 date-time"),
    "14_items_as_string.json": ("items", None, "Not a valid list"),
    "15_shipment_as_list.json": ("shipment", None, "Invalid input type"),
    "16_shipment_without_code.json": ("shipment.code", None, "Missing data for required field"),
    "17_quantity_lots.json": ("quantity", 2, "must be a number, not str"),
    "18_quantity_nan.json": ("quantity", 1, "must be a finite number"),
    "19_quantity_infinite.json": ("quantity", 2, "must be a finite number"),
    "20_quantity_negative.json": ("quantity", 1, "greater than or equal to 0"),
    "21_quantity_true.json": ("quantity", 1, "must be a number, not bool"),
    "22_quantity_400_digits.json": ("quantity", 2, "Number too large"),
    "23_huge_from_location.json": ("from_location", 2, "Length must be between 0 and 2000"),
    "24_wrong_check_character.json": ("accession", 2, "check character is F, expected E"),
    "25_compact_accession.json": ("accession", 1, "write it in its printed form TB-9000001-G"),
    "26_duplicate_items.json": ("accession", 3, "TB-9000001-G is listed twice (also item 1)"),
    "27_unknown_unit.json": ("unit", 1, "Must be one of: ml, ul"),
    "28_unknown_item_field.json": ("colour", 2, "Unknown field"),
    "29_format_3.json": ("format", None, "is not trialbank-manifest/2"),
    "30_no_items.json": ("items", None, "must list 1 to 10000 samples"),
    "31_item_not_an_object.json": ("item", 2, "Invalid input type"),
    "32_to_its_own_site.json": ("shipment.to_site", None, "cannot go to the site it leaves from"),
    "33_unknown_conditions.json": ("shipment.conditions", None, "Must be one of: dry_ice"),
    "34_study_a_number.json": ("study", None, "Not a valid string"),
    "35_bell_in_courier.json": ("shipment.courier", None, "without control characters"),
    "36_nul_in_courier.json": ("shipment.courier", None, "without control characters"),
    "37_lone_surrogate.json": ("content", None, "not valid Unicode"),
    "38_csv_checksum_mismatch.json": ("csv_sha256", None, "does not match the items"),
    "39_sha256_mismatch.json": ("sha256", None, "does not match the content"),
    "40_unknown_study.json": ("study", None, "this study is not installed here"),
    "41_unknown_site.json": ("shipment.to_site", None, "no such site here"),
    "42_content_a_string.json": ("content", None, "Not a valid mapping type"),
    "43_missing_parent.json": ("parent", 1, "Missing data for required field"),
    "44_empty_file.json": ("file", None, "is not valid JSON"),
    "45_missing_csv_checksum.json": ("csv_sha256", None, "Missing data for required field"),
}
# Refused at the door for every JSON endpoint, before any view runs (PostgreSQL cannot store NUL; Python's
# JSON reader gives up on deep nesting); the import page reads the same bytes as an uploaded file.
AT_THE_DOOR = {"36_nul_in_courier.json": "text may not contain NUL",
               "08_deeply_nested.json": "nested too deeply"}


def _strict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("repeated key")
    return dict(pairs)


def prepare(raw: bytes, trusted: Installation) -> bytes:
    """Sign a placeholder file with the trusted key; leave every other file byte for byte as it is."""
    try:
        doc = json.loads(raw, object_pairs_hook=_strict)
    except (ValueError, RecursionError):
        return raw
    if not isinstance(doc, dict) or doc.get("signature") != "SIGN":
        return raw
    try:
        signed = trusted.sign(doc["content"])
    # text that cannot be signed: a signature that cannot verify, by the trusted key
    except UnicodeEncodeError:
        signed = {"content": doc["content"], "sha256": "0" * 64, "signature": {
            "algorithm": "ed25519", "key_id": trusted.key.fingerprint,
            "value": base64.b64encode(bytes(64)).decode()}}
    if doc.get("sha256") != "SHA256":
        signed["sha256"] = doc["sha256"]
    return json.dumps(signed).encode("utf-8")


def test_the_corpus_is_big_enough() -> None:
    assert len(FILES) >= 20
    assert set(EXPECTED) == set(FILES), "every corpus file needs its expected field and reason"


@pytest.mark.parametrize("name", FILES)
def test_malformed_manifest_is_refused_everywhere(name, login, session, user, nb_site, zj_central,
                                                  run_as) -> None:
    keys.register_key(session, installation=nb_site.name, public_key=nb_site.key.public_key, by=user("admin"))
    run_as(zj_central)
    raw = prepare((CORPUS / name).read_bytes(), nb_site)
    client = login("lab_manager")
    before = counts(session)
    page = client.post("/shipments/import", data={"manifest": (io.BytesIO(raw), name)},
                       content_type="multipart/form-data")
    api = client.post("/api/v1/shipments/import", data=raw, content_type="application/json")
    assert counts(session) == before, "a refused manifest wrote something"
    field, item, reason = EXPECTED[name]

    assert page.status_code == 400
    html = unescape(page.get_data(as_text=True))
    assert f"{name} was refused: nothing was imported" in html
    row = re.search(r'<tr class="has-error"><td>(.*?)</td><td>(.*?)</td><td>.*?</td><td>(.*?)</td></tr>',
                    html)
    assert row is not None, html
    assert row[1].startswith(f"item {item}") if item else row[1] == "—"
    assert (row[2], reason in row[3]) == (field, True), row.groups()

    assert 400 <= api.status_code < 500
    body = api.get_json()
    if name in AT_THE_DOOR:
        assert AT_THE_DOOR[name] in body["message"]
        return
    assert api.status_code == 422
    problem = body["errors"]["manifest"][0]
    assert (problem["field"], problem["item"], reason in problem["reason"]) == (field, item, True), problem
