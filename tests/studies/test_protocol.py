"""Protocol files: the shipped default loads; broken files name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from lims.config import DEFAULT_PROTOCOL
from lims.core.errors import ProtocolError
from lims.studies.protocol import load_protocol

DEFAULT = Path(DEFAULT_PROTOCOL).read_text()


def test_default_protocol_describes_the_escc_trial() -> None:
    p = load_protocol(DEFAULT_PROTOCOL)
    assert p.code == "ESCC-WW"
    assert [s["code"] for s in p.sites] == ["ZJ", "NB", "WZ", "SX"]
    assert {s["code"] for s in p.strata} == {"NON_CCR_SURGERY", "CCR_SURGERY", "CCR_WW"}
    cres = [tp for tp in p.timepoints if tp.cre_number]
    assert [tp.cre_number for tp in cres] == list(range(1, 15))
    cre1 = p.timepoint("CRE1")
    assert (cre1.anchor, cre1.day - cre1.window_before, cre1.day + cre1.window_after) == ("eot", 28, 42)
    cre2 = p.timepoint("CRE2")
    assert (cre2.anchor, cre2.day, cre2.window_before, cre2.strata) == ("eot", 98, 7, ("CCR_WW",))
    assert p.timepoint("CRE3").window_before == 14
    baseline = p.timepoint("BASELINE")
    streck = next(k for k in baseline.kit if k.container == "STRECK")
    assert streck.yields[0].sample_type == "CTDNA_PLASMA" and streck.yields[0].aliquots == 4
    assert p.settings["dfs_variant"] == "A"
    assert p.retention["FFPE"] == 30
    assert len(p.sha256) == 64


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('anchor = "eot"\nday = 35', 'anchor = "teatime"\nday = 35', "timepoints[3].anchor",
         "unknown anchor 'teatime'"),
        ('container = "STRECK", volume = 10, unit = "ml", yields = ["CTDNA_PLASMA:4x1"], processing = "1600',
         ('container = "STRECK", volume = 10, unit = "litres", yields = ["CTDNA_PLASMA:4x1"], processing = '
         '"1600'),
         "timepoints[0].kit[0].unit", "unknown unit 'litres'"),
        ('yields = ["SERUM:4x0.5"], processing = "clot', 'yields = ["SERUM:four"], processing = "clot',
         "timepoints[0].kit[2].yields[0]", "must look like 'TYPE:4x1'"),
        ('code = "NB"', 'code = "ZJ"', "sites[1].code", "duplicate code 'ZJ'"),
        ('dfs_variant = "A"', 'dfs_variant = "C"', "settings.dfs_variant", "must be 'A' or 'B'"),
        ('accession_prefix = "TB"', 'accession_prefix = "tb1"', "study.accession_prefix",
         "2 upper-case letters"),
        ('strata = ["CCR_WW"]\nkit', 'strata = ["CCR_MAYBE"]\nkit', "cre_series[0].days[0].strata",
         "unknown stratum"),
        ("FFPE = 30", "FFPE = -1", "retention.FFPE", "positive whole number"),
        ("days = [98, 182,", "days = [182, 98,", "cre_series[0].days", "must increase strictly"),
    ],
)
def test_broken_protocol_names_file_key_and_problem(tmp_path: Path, old: str, new: str, key: str,
                                                    problem: str) -> None:
    assert old in DEFAULT, f"test fixture out of date: {old!r}"
    path = _write(tmp_path, DEFAULT.replace(old, new, 1))
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert info.value.path == str(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(path) in str(info.value) and key in str(info.value)


def test_missing_section_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match=r"sites: is required but missing"):
        load_protocol(_write(tmp_path, DEFAULT.replace("[[sites]]", "[[sitez]]")))
    with pytest.raises(ProtocolError, match=r"\(syntax\)"):
        load_protocol(_write(tmp_path, "[study\ncode = 1"))
    with pytest.raises(ProtocolError, match=r"cannot be read"):
        load_protocol(tmp_path / "nope.toml")


def test_kit_referring_to_unknown_sample_type(tmp_path: Path) -> None:
    broken = DEFAULT.replace('{ sample_type = "STOOL", container = "STOOL_KIT", volume = 2000, unit = "mg", '
                             'yields = ["STOOL:4x200"] } ]',
                             '{ sample_type = "URINE", container = "STOOL_KIT", volume = 2000, unit = "mg" } '
                             ']', 1)
    with pytest.raises(ProtocolError) as info:
        load_protocol(_write(tmp_path, broken))
    assert info.value.key == "timepoints[4].kit[0].sample_type"
    assert "unknown sample type 'URINE'" in info.value.problem
