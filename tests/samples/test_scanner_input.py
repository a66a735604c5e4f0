"""What scanners send: suffixes, AIM symbology prefixes and keyboard-layout mix-ups, in the one parser."""

from __future__ import annotations

import pytest

from lims.samples.accession import AccessionError, diagnose, make_accession, validate
from lims.samples.keyboard import LAYOUTS, keys
from tests.station.conftest import make_bench

CODE = make_accession(42)  # TB-0000042-3
COMPACT = CODE.replace("-", "")
CHECK_Z = next(make_accession(n) for n in range(1, 500) if make_accession(n).endswith("Z"))


@pytest.mark.parametrize("raw", [
    f"]C1{CODE}", f"]C0{CODE}\r\n", f"]d2{COMPACT}", f"]Q3{CODE}\t", f"]d1{CODE.lower()}",
    f"\x02]C1{CODE}\x03",
    f"{CODE}\t", f"{CODE}\r", f" {COMPACT}\n",
])
def test_suffixes_framing_and_aim_prefixes_are_removed(raw: str) -> None:
    assert validate(raw) == CODE


def test_an_aim_prefix_does_not_hide_a_wrong_check_character() -> None:
    with pytest.raises(AccessionError, match="check character"):
        validate(f"]C1{CODE[:-1]}4")


def _typed_through(layout_name: str, text: str) -> str:
    layout = next(lay for lay in LAYOUTS if lay.name.startswith(layout_name))
    meant_to_received = {v: k for k, v in layout.table.items()}
    return "".join(meant_to_received.get(ch, ch) for ch in text)


@pytest.mark.parametrize(("layout", "raw", "shown"), [
    ("German", CODE.replace("-", "ß"), "'ß'"),
    ("German", _typed_through("German", f"]C1{CHECK_Z}"), "'+'"),
    ("French", _typed_through("French", CODE), "')'"),
    ("Swiss", CODE.replace("-", "'"), "\"'\""),
])
def test_keyboard_layout_mistakes_get_a_hint_naming_layout_and_id(layout: str, raw: str, shown: str) -> None:
    with pytest.raises(AccessionError) as info:
        validate(raw)
    message = str(info.value)
    assert shown in message
    assert f"typed through a {layout}" in message and "keyboard language" in message
    assert "Scanner setup" in message


def test_german_layout_swaps_y_and_z_in_the_check_character() -> None:
    with pytest.raises(AccessionError, match=f"this is {CHECK_Z} typed through a German"):
        validate(CHECK_Z[:-1] + "Y")


def test_foreign_characters_without_a_valid_translation_still_get_a_hint() -> None:
    with pytest.raises(AccessionError, match="'é' only comes from a non-US keyboard layout"):
        validate("TB-00é0042-3")


def test_diagnosis_of_a_tab_suffixed_scan_with_an_aim_prefix() -> None:
    d = diagnose(f"]C1{CODE}\t")
    assert d.accession == CODE and d.suffix == "Tab" and d.symbology == "]C1 (Code 128)"
    assert [k.hex for k in d.keys][:4] == ["5D", "43", "31", "54"] and d.keys[-1].name == "TAB"
    assert any("symbology identifier ]C1" in a for a in d.advice)


def test_diagnosis_without_suffix_and_through_a_german_layout() -> None:
    d = diagnose(CODE.replace("-", "ß"))
    assert d.accession is None and d.suffix is None
    assert any("no Enter or Tab" in a for a in d.advice)
    assert any("wrong keyboard layout" in a and "German" in a for a in d.advice)
    assert [k.hex for k in keys("ß")] == ["DF"]
    assert diagnose(CODE, suffix="Enter").advice == ["The scanner is set up well: nothing to change."]


def test_diagnose_api_and_setup_page(login) -> None:
    client = login("technician")
    r = client.post("/api/v1/station/diagnose", json={"text": f"]d2{COMPACT}", "suffix": "Tab"})
    body = r.get_json()
    assert r.status_code == 200 and body["accession"] == CODE and body["symbology"] == "]d2 (Data Matrix)"
    assert client.post("/api/v1/station/diagnose", json={"text": "x", "suffix": "Space"}).status_code == 422
    page = client.get("/station/setup").get_data(as_text=True)
    assert "Scanner setup" in page and "TB-9999999-V" in page
    svg = client.get("/station/setup/test-label.svg")
    assert svg.mimetype == "image/svg+xml"


def test_station_refuses_a_german_layout_scan_with_the_hint(login, session, study, make_participant,
                                                            user) -> None:
    bench = make_bench(session, study, make_participant, user)
    client = login("technician")
    code = bench.plasma[0].accession
    r = client.post("/api/v1/station/lookup", json={"code": code.replace("-", "ß"), "mode": "lookup"})
    assert r.status_code == 400 and f"this is {code} typed through a German" in r.get_json()["message"]
    ok = client.post("/api/v1/station/lookup", json={"code": f"]C1{code}\t", "mode": "lookup"})
    assert ok.status_code == 200 and ok.get_json()["code"] == code
