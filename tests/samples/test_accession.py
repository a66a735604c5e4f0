"""Accession IDs: format, normalisation, error messages and the check character's detection guarantees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.samples.accession import (
    CHECK_ALPHABET,
    COMPACT_LENGTH,
    MAX_SERIAL,
    PRINTED_LENGTH,
    AccessionError,
    check_character,
    is_valid,
    make_accession,
    normalise,
    validate,
)

# Every character a reader could put in an ID's place: the ID alphabet, the check-only '*', the hyphen.
SUBSTITUTES = CHECK_ALPHABET + "-"

serials = st.integers(min_value=1, max_value=MAX_SERIAL)
prefixes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


def test_iso_7064_mod_37_2_reference_value() -> None:
    # Worked example from python-stdnum's ISO 7064 Mod 37,2 documentation.
    assert check_character("G123498654321") == "H"


def test_format_is_prefix_serial_check() -> None:
    accession = make_accession(42)
    assert accession == "TB-0000042-3"
    assert len(accession) == PRINTED_LENGTH == 12
    assert len(accession.replace("-", "")) == COMPACT_LENGTH == 10
    assert make_accession(MAX_SERIAL, prefix="ZZ").startswith("ZZ-9999999-")


def test_check_character_can_be_star() -> None:
    star = next(s for s in range(1, 2000) if make_accession(s).endswith("*"))
    assert validate(make_accession(star)) == make_accession(star)


@pytest.mark.parametrize(
    ("serial", "prefix", "message"),
    [
        (0, "TB", "serial must be between 1 and 9999999, got 0"),
        (10_000_000, "TB", "serial must be between 1 and 9999999"),
        (1, "tb", "prefix must be 2 upper-case letters"),
        (1, "T1", "prefix must be 2 upper-case letters"),
        (1, "TBX", "prefix must be 2 upper-case letters"),
    ],
)
def test_make_accession_rejects_bad_input(serial: int, prefix: str, message: str) -> None:
    with pytest.raises(AccessionError, match=message):
        make_accession(serial, prefix=prefix)


@given(serials, prefixes)
def test_round_trip(serial: int, prefix: str) -> None:
    accession = make_accession(serial, prefix)
    assert validate(accession) == accession
    assert validate(accession.replace("-", "")) == accession


@settings(max_examples=150, deadline=None)
@given(serials, prefixes, st.booleans())
def test_every_single_substitution_is_rejected(serial: int, prefix: str, compact: bool) -> None:
    accession = make_accession(serial, prefix)
    text = accession.replace("-", "") if compact else accession
    for i, original in enumerate(text):
        for ch in SUBSTITUTES:
            if ch != original:
                mutated = text[:i] + ch + text[i + 1 :]
                with pytest.raises(AccessionError):
                    validate(mutated)


@settings(max_examples=150, deadline=None)
@given(serials, prefixes, st.booleans())
def test_every_adjacent_transposition_is_rejected(serial: int, prefix: str, compact: bool) -> None:
    accession = make_accession(serial, prefix)
    text = accession.replace("-", "") if compact else accession
    for i in range(len(text) - 1):
        if text[i] != text[i + 1]:
            swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
            with pytest.raises(AccessionError):
                validate(swapped)


def test_check_character_alone_detects_all_substitutions_and_transpositions_of_the_body() -> None:
    # Independent of the format rules: the MOD 37-2 guarantee itself, over arbitrary bodies.
    body = "TB0000042"
    check = check_character(body)
    for i in range(len(body)):
        for ch in CHECK_ALPHABET[:-1]:
            if ch != body[i]:
                assert check_character(body[:i] + ch + body[i + 1 :]) != check
    full = body + check
    for i in range(len(full) - 1):
        if full[i] != full[i + 1]:
            swapped = full[:i] + full[i + 1] + full[i] + full[i + 2 :]
            assert check_character(swapped[:-1]) != swapped[-1]


@pytest.mark.parametrize(
    "raw",
    [
        "tb-0000042-3",
        "  TB-0000042-3  ",
        "TB-0000042-3\r\n",
        "\tTB00000423\n",
        "tb00000423",
        "ＴＢ－０００００４２－３",  # full-width input from an IME
    ],
)
def test_normalisation(raw: str) -> None:
    assert validate(raw) == "TB-0000042-3"


def test_normalise_keeps_hyphens_and_inner_text() -> None:
    assert normalise(" tb-0000042-3\r\n") == "TB-0000042-3"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "accession ID is empty"),
        (" \r\n\t", "accession ID is empty"),
        ("TB-0000042-8", "check character is 8, expected 3: the ID was mistyped or misread"),
        ("TB00000428", "check character is 8, expected 3: the ID was mistyped or misread"),
        ("TB-0000024-3", "check character is 3, expected .: the ID was mistyped or misread"),
        ("TB-0000042", "has 10 characters; expected 12 .like TB-0000042-3. or 10 without hyphens"),
        ("TB0000042", "'TB0000042' has 9 characters; expected 12"),
        ("TB-00000042-3", "has 13 characters"),
        ("T#-0000042-3", "illegal character '#' at position 2"),
        ("TB-0000042_3", "illegal character '_' at position 11"),
        ("TB 0000042 3", r"illegal character ' ' \(space\) at position 3"),
        ("TB-00é0042-3", "illegal character 'é' at position 6"),
        ("TB0-000042-3", "hyphens belong at positions 3 and 11 .like TB-0000042-3. or nowhere; position 3"),
        ("TB00000-42-3", "has 12 characters|hyphens belong"),
        ("1B-0000042-3", r"position 1 must be a letter A-Z \(prefix\), got '1'"),
        ("TB-00O0042-3", r"position 6 must be a digit 0-9 \(serial\), got 'O'"),
        ("TB00I00423", r"position 5 must be a digit 0-9 \(serial\), got 'I'"),
        ("TB-*000042-3", r"position 4 must be a digit"),
    ],
)
def test_specific_error_messages(raw: str, message: str) -> None:
    with pytest.raises(AccessionError, match=message):
        validate(raw)


def test_accession_error_is_a_value_error() -> None:
    assert issubclass(AccessionError, ValueError)
    assert not is_valid("TB-0000042-8")
    assert is_valid("TB-0000042-3")


def test_check_character_rejects_characters_outside_alphabet() -> None:
    with pytest.raises(AccessionError, match="illegal character '-' at position 3"):
        check_character("TB-1")
