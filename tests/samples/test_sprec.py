"""SPREC derivation: domain.md's worked examples, band boundaries, and unknown values never guessed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.samples.sprec import (
    FluidPreanalytics,
    SolidPreanalytics,
    SprecError,
    derive,
    explain,
    fluid_code,
    solid_code,
)

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def edta_plasma(**changes: object) -> FluidPreanalytics:
    """Double-spun EDTA plasma for ctDNA, processed within 2 h, 1 mL aliquots at -80 C."""
    base = FluidPreanalytics(
        sprec_type="PL2",
        container_code="PED",
        collected_at=at(0),
        processing_started_at=at(80),
        precentrifugation_temp_c=21,
        spin1_g=1800,
        spin1_min=10,
        spin1_temp_c=20,
        spin1_brake=True,
        spin2_g=16000,
        spin2_min=10,
        spin2_temp_c=20,
        spin2_brake=True,
        spin2_done=True,
        last_spin_ended_at=at(110),
        postspin_temp_c=4,
        frozen_at=at(140),
        storage_temp_c=-80,
        storage_container="PP",
        aliquot_volume_ul=1000,
    )
    return dataclasses.replace(base, **changes)


def ffpe_resection(**changes: object) -> SolidPreanalytics:
    base = SolidPreanalytics(
        sprec_type="TIS",
        collection_type="SRG",
        clamped_at=at(0),
        excised_at=at(45),
        fixation_started_at=at(45 + 15),
        fixation_ended_at=at(45 + 15 + 30 * 60),
        fixation_type="NBF",
        storage_temp_c=20,
        storage_container="PARAFFIN",
    )
    return dataclasses.replace(base, **changes)


# --- domain.md section 7 worked examples ------------------------------------------------------------------


def test_edta_plasma() -> None:
    assert fluid_code(edta_plasma()) == "PL2-PED-A-B-I-A-A"


def test_streck_plasma_spun_next_day() -> None:
    streck = edta_plasma(container_code="ZZZ", processing_started_at=at(30 * 60),
                         last_spin_ended_at=at(30 * 60 + 30),
                         frozen_at=at(30 * 60 + 50))
    assert fluid_code(streck) == "PL2-ZZZ-K-B-I-A-A"


def test_edta_plasma_at_the_low_end_of_the_second_spin_range_is_e_not_i() -> None:
    # domain.md gives the second spin as 3000-16000 g but codes the example "I" (> 10000 g): at 3000 g it is
    # E.
    assert fluid_code(edta_plasma(spin2_g=3000)) == "PL2-PED-A-B-E-A-A"


def test_buffy_coat() -> None:
    buffy = edta_plasma(sprec_type="BFF", spin2_done=False, spin2_g=None, spin2_min=None, spin2_temp_c=None,
                        spin2_brake=None, last_spin_ended_at=None, processing_started_at=at(60),
                        frozen_at=at(100))
    assert fluid_code(buffy) == "BFF-PED-A-B-N-A-A"


def test_serum_half_millilitre_aliquots_are_a() -> None:
    serum = FluidPreanalytics(
        sprec_type="SER", container_code="SST", collected_at=at(0), processing_started_at=at(45),
        precentrifugation_temp_c=22, spin1_g=2000, spin1_min=10, spin1_temp_c=22, spin1_brake=True,
        spin2_done=False, postspin_temp_c=4, frozen_at=at(45 + 10 + 30), storage_temp_c=-80,
        storage_container="PP", aliquot_volume_ul=500,
    )
    assert fluid_code(serum) == "SER-SST-A-B-N-A-A"


def test_pbmc() -> None:
    pbmc = FluidPreanalytics(
        sprec_type="CEL", container_code="PED", collected_at=at(0), processing_started_at=at(150),
        precentrifugation_temp_c=20, spin1_g=400, spin1_min=30, spin1_temp_c=20, spin1_brake=False,
        spin2_done=False, frozen_at=at(240), storage_temp_c=-196, storage_container="CRYO",
        storage_via_minus80=True, aliquot_volume_ul=1000,
    )
    assert fluid_code(pbmc) == "CEL-PED-C-M-N-N-N"


def test_stool() -> None:
    stool = FluidPreanalytics(
        sprec_type="STL", container_code="PPS", collected_at=at(0), processing_started_at=at(18 * 60),
        precentrifugation_temp_c=22, spun=False, frozen_at=at(18 * 60 + 30), storage_temp_c=-80,
        storage_container="CRYO",
    )
    assert fluid_code(stool) == "STL-PPS-I-N-N-N-D"


def test_ffpe_biopsy() -> None:
    biopsy = SolidPreanalytics(
        sprec_type="TIS", collection_type="BPS", excised_at=at(0), fixation_started_at=at(1),
        fixation_ended_at=at(1 + 18 * 60), fixation_type="NBF", storage_container="PARAFFIN",
    )
    assert solid_code(biopsy) == "TIS-BPS-N-A-NBF-E-P"


def test_ffpe_resection() -> None:
    assert solid_code(ffpe_resection()) == "TIS-SRG-E-C-NBF-F-P"


def test_snap_frozen_biopsy() -> None:
    frozen = SolidPreanalytics(
        sprec_type="TIS", collection_type="BPS", excised_at=at(0), fixation_started_at=at(1.5),
        fixation_type="SNP", storage_temp_c=-80, storage_container="CRYO",
    )
    assert solid_code(frozen) == "TIS-BPS-N-A-SNP-N-D"


def test_derive_and_explain_dispatch_on_type() -> None:
    assert derive(edta_plasma()) == "PL2-PED-A-B-I-A-A"
    assert derive(ffpe_resection()) == "TIS-SRG-E-C-NBF-F-P"
    rows = explain(edta_plasma())
    assert [r[0] for r in rows] == [
        "Type of sample", "Primary container", "Pre-centrifugation", "Centrifugation",
        "Second centrifugation", "Post-centrifugation", "Long-term storage",
    ]
    assert rows[2] == ("Pre-centrifugation", "A", "RT (21 °C), 1 h 20 min")
    assert rows[5] == ("Post-centrifugation", "A", "2-10 °C (4 °C), 30 min")
    assert [r[0] for r in explain(ffpe_resection())][2:4] == ["Warm ischaemia", "Cold ischaemia"]


# --- missing values are the unknown letter, never guessed ---------------------------------------------------


def test_everything_missing_is_unknown() -> None:
    assert fluid_code(FluidPreanalytics()) == "XXX-XXX-X-X-X-X-X"
    assert solid_code(SolidPreanalytics()) == "XXX-XXX-X-X-XXX-X-X"


@pytest.mark.parametrize(
    ("change", "position", "reason"),
    [
        ({"collected_at": None}, 2, "collection time not recorded"),
        ({"precentrifugation_temp_c": None}, 2, "temperature while waiting not recorded"),
        ({"spin1_brake": None}, 3, "brake not recorded"),
        ({"spin1_g": None}, 3, "speed not recorded"),
        ({"spin2_done": None, "spin2_g": None, "spin2_min": None, "spin2_temp_c": None, "spin2_brake": None},
         4, "whether a second centrifugation was done is not recorded"),
        ({"spin2_min": None}, 4, "duration not recorded"),
        ({"postspin_temp_c": None}, 5, "temperature after centrifugation not recorded"),
        ({"frozen_at": None}, 5, "time placed in storage not recorded"),
        ({"storage_temp_c": None}, 6, "storage temperature not recorded"),
        ({"aliquot_volume_ul": None}, 6, "aliquot volume not recorded"),
        ({"storage_container": None}, 6, "storage container not recorded"),
    ],
)
def test_one_missing_fluid_value_gives_x_in_its_element_only(change: dict, position: int,
                                                             reason: str) -> None:
    rows = explain(edta_plasma(**change))
    letters = [r[1] for r in rows]
    expected = ["PL2", "PED", "A", "B", "I", "A", "A"]
    expected[position] = "X"
    assert letters == expected
    assert reason in rows[position][2]


def test_missing_type_and_container_are_xxx() -> None:
    assert fluid_code(edta_plasma(sprec_type=None, container_code=None)) == "XXX-XXX-A-B-I-A-A"


def test_second_spin_without_end_time_is_x_unless_the_bound_settles_it() -> None:
    slow = edta_plasma(last_spin_ended_at=None, frozen_at=at(80 + 20 + 90))
    assert fluid_code(slow).split("-")[5] == "X"
    assert "between 0 and" in explain(slow)[5][2]
    # Upper bound under 1 h: the delay is certainly < 1 h whatever the gap between spins.
    quick = edta_plasma(last_spin_ended_at=None, frozen_at=at(80 + 20 + 50))
    assert fluid_code(quick).split("-")[5] == "A"


def test_single_spin_end_is_start_plus_duration() -> None:
    single = edta_plasma(sprec_type="PL1", spin2_done=False, spin2_g=None, spin2_min=None, spin2_temp_c=None,
                         spin2_brake=None, last_spin_ended_at=None, frozen_at=at(80 + 10 + 70))
    assert fluid_code(single) == "PL1-PED-A-B-N-C-A"


def test_surgical_sample_without_clamping_time_is_x_and_biopsy_is_n() -> None:
    assert solid_code(ffpe_resection(clamped_at=None)).split("-")[2] == "X"
    assert solid_code(ffpe_resection(collection_type="BPS", clamped_at=None)).split("-")[2] == "N"
    assert solid_code(ffpe_resection(collection_type=None, clamped_at=None)) == "TIS-XXX-X-C-NBF-F-P"


def test_missing_fixation_end_is_x() -> None:
    assert solid_code(ffpe_resection(fixation_ended_at=None)) == "TIS-SRG-E-C-NBF-X-P"
    assert solid_code(ffpe_resection(fixation_type=None)) == "TIS-SRG-E-C-XXX-X-P"


def test_spun_none_with_no_spin_values_is_unknown() -> None:
    p = FluidPreanalytics(sprec_type="PL1", container_code="PED", collected_at=at(0),
                          processing_started_at=at(30),
                          precentrifugation_temp_c=20, frozen_at=at(90), storage_temp_c=-80,
                          storage_container="PP", aliquot_volume_ul=1000)
    assert fluid_code(p) == "PL1-PED-A-X-X-X-A"


def test_contradictory_second_spin_is_unknown() -> None:
    assert fluid_code(edta_plasma(spin2_done=False)).split("-")[4] == "X"


def test_negative_delay_is_flagged_not_coded() -> None:
    rows = explain(edta_plasma(processing_started_at=at(-5)))
    assert rows[2][1] == "X" and "before collection" in rows[2][2]


# --- boundaries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "temp", "letter"),
    [
        (0, 22, "A"), (119.9, 22, "A"), (120, 22, "C"), (120, 4, "D"), (239, 4, "D"), (240, 22, "E"),
        (479, 4, "F"), (480, 22, "G"), (719, 4, "H"), (720, 22, "I"), (1439, 4, "J"), (1440, 22, "K"),
        (2879, 4, "L"), (2880, 22, "M"), (5000, 4, "N"), (100, 37, "O"), (130, 37, "Z"), (60, 18, "A"),
        (60, 28, "A"), (60, 2, "B"), (60, 10, "B"), (60, 14, "Z"), (60, 30, "Z"), (60, 0, "Z"),
    ],
)
def test_precentrifugation_bands(minutes: float, temp: float, letter: str) -> None:
    p = edta_plasma(processing_started_at=at(minutes), precentrifugation_temp_c=temp,
                    last_spin_ended_at=at(minutes + 30), frozen_at=at(minutes + 60))
    assert fluid_code(p).split("-")[2] == letter


@pytest.mark.parametrize(
    ("g", "minutes", "temp", "brake", "letter"),
    [
        (1800, 10, 20, False, "A"), (1800, 15, 20, True, "B"), (2999, 10, 4, False, "C"),
        (1500, 12, 4, True, "D"),
        (3000, 10, 20, True, "E"), (3000, 10, 20, False, "E"), (5999, 10, 4, True, "F"),
        (6000, 10, 20, True, "G"),
        (9999, 10, 4, True, "H"), (10000, 10, 20, True, "I"), (16000, 10, 4, True, "J"),
        (400, 30, 20, False, "M"),
        (800, 25, 22, False, "M"), (400, 30, 20, True, "Z"), (400, 30, 4, False, "Z"),
        (1800, 9, 20, True, "Z"),
        (1800, 16, 20, True, "Z"), (1800, 10, 15, True, "Z"), (1200, 20, 20, False, "Z"),
    ],
)
def test_first_spin_bands(g: float, minutes: float, temp: float, brake: bool, letter: str) -> None:
    p = edta_plasma(spin1_g=g, spin1_min=minutes, spin1_temp_c=temp, spin1_brake=brake)
    assert fluid_code(p).split("-")[3] == letter


def test_second_spin_has_no_m() -> None:
    p = edta_plasma(spin2_g=400, spin2_min=30, spin2_temp_c=20, spin2_brake=False)
    assert fluid_code(p).split("-")[4] == "Z"


def test_unknown_brake_does_not_matter_above_3000_g() -> None:
    assert fluid_code(edta_plasma(spin2_brake=None)).split("-")[4] == "I"
    rows = explain(edta_plasma(spin1_brake=None, spin1_g=400, spin1_min=30))
    assert rows[3][1] == "X" and "no brake would be M" in rows[3][2]


@pytest.mark.parametrize(
    ("minutes", "temp", "letter"),
    [
        (59, 4, "A"), (59, 22, "B"), (60, 4, "C"), (119, 22, "D"), (120, 4, "E"), (479, 22, "F"),
        (480, 4, "G"), (1439, 22, "H"), (1440, 4, "I"), (3000, 22, "J"), (30, 12, "Z"),
    ],
)
def test_postcentrifugation_bands_cold_letter_first(minutes: float, temp: float, letter: str) -> None:
    p = edta_plasma(postspin_temp_c=temp, frozen_at=at(110 + minutes))
    assert fluid_code(p).split("-")[5] == letter


@pytest.mark.parametrize(
    ("container", "temp", "volume", "via80", "letter"),
    [
        ("PP", -80, 1000, None, "A"), ("PP", -85, 500, None, "A"), ("PP", -60, 2000, None, "A"),
        ("PP", -20, 1000, None, "B"), ("PP", -80, 499, None, "S"), ("PP", -80, 40, None, "S"),
        ("PP", -20, 200, None, "T"), ("PP", -196, 1000, None, "V"), ("PP", -196, 200, None, "W"),
        ("PP", -80, 5000, None, "Z"), ("PP", -80, 20, None, "Z"), ("PP", -50, 1000, None, "Z"),
        ("CRYO", -196, 1000, False, "C"), ("CRYO", -150, 1000, True, "N"), ("CRYO", -180, 1000, None, "X"),
        ("CRYO", -80, None, None, "D"), ("CRYO", -20, None, None, "Z"), ("PRIMARY", -80, None, None, "Y"),
        # SPREC's Y is the primary container at -85..-60 C or -35..-18 C (it used to code -20 C as Z).
        ("PRIMARY", -20, None, None, "Y"), ("PRIMARY", -35, None, None, "Y"),
        ("PRIMARY", -50, None, None, "Z"),
        ("PRIMARY", 4, None, None, "Z"),
        # V/W mean "below -135 C": a PP tube in a -140 C freezer is V (it used to code Z).
        ("PP", -140, 1000, None, "V"), ("PP", -136, 200, None, "W"), ("PP", -135, 1000, None, "Z"),
        ("CRYO", -140, 1000, False, "Z"), ("PARAFFIN", 20, None, None, "P"),
        ("PARAFFIN", None, None, None, "P"),
        ("PARAFFIN", -80, None, None, "Z"), ("BAG", -196, None, None, "Z"), ("pp", -80, 1000, None, "A"),
    ],
)
def test_storage(container: str, temp: float | None, volume: float | None, via80: bool | None,
                 letter: str) -> None:
    p = edta_plasma(storage_container=container, storage_temp_c=temp, aliquot_volume_ul=volume,
                    storage_via_minus80=via80)
    assert fluid_code(p).split("-")[6] == letter


@pytest.mark.parametrize(
    ("minutes", "letter"),
    [(0, "A"), (1.9, "A"), (2, "B"), (9.9, "B"), (10, "C"), (20, "D"), (30, "E"), (59, "E"), (60, "F"),
     (600, "F")],
)
def test_ischaemia_bands(minutes: float, letter: str) -> None:
    warm = ffpe_resection(clamped_at=at(45 - minutes))
    cold = ffpe_resection(fixation_started_at=at(45 + minutes), fixation_ended_at=at(45 + minutes + 30 * 60))
    assert solid_code(warm).split("-")[2] == letter
    assert solid_code(cold).split("-")[3] == letter


@pytest.mark.parametrize(
    ("minutes", "letter"),
    [
        (14, "A"), (15, "B"), (60, "B"), (61, "C"), (239, "C"), (240, "D"), (480, "E"), (1439, "E"),
        (1440, "F"), (2880, "G"), (4319, "G"), (4320, "Z"),
    ],
)
def test_fixation_time_bands(minutes: float, letter: str) -> None:
    p = ffpe_resection(fixation_ended_at=at(60 + minutes))
    assert solid_code(p).split("-")[5] == letter


def test_naive_datetimes_from_sqlite_are_treated_as_utc() -> None:
    p = edta_plasma(collected_at=at(0).replace(tzinfo=None))
    assert fluid_code(p) == "PL2-PED-A-B-I-A-A"


def test_codes_are_upper_cased_and_bad_codes_rejected() -> None:
    assert fluid_code(edta_plasma(sprec_type="pl2", container_code=" ped ")) == "PL2-PED-A-B-I-A-A"
    with pytest.raises(SprecError, match="primary container code must be 3 letters or digits, got 'EDTA'"):
        fluid_code(edta_plasma(container_code="EDTA"))


def test_explain_reason_for_other() -> None:
    rows = explain(edta_plasma(precentrifugation_temp_c=14))
    assert rows[2][1] == "Z"
    assert "14 °C is outside SPREC's RT (18-28 °C) and 2-10 °C ranges" in rows[2][2]


_MOMENTS = st.one_of(st.none(),
                     st.sampled_from([-30, 0, 15, 59, 60, 61, 119, 120, 240, 1500, 3000, 5000]).map(at))
_TEMPS = st.one_of(st.none(), st.sampled_from([4.0, 21.0, 37.0, 50.0, -80.0, -20.0, -140.0, -196.0, 1.0]))
_FLAGS = st.sampled_from([None, True, False])
_FLUIDS = st.builds(
    FluidPreanalytics, sprec_type=st.sampled_from([None, "PL2", "SER", "CEL"]),
    container_code=st.sampled_from([None, "PED", "SST"]), collected_at=_MOMENTS,
    processing_started_at=_MOMENTS, precentrifugation_temp_c=_TEMPS,
    spin1_g=st.sampled_from([None, 500.0, 1800.0, 4000.0, 16000.0]),
    spin1_min=st.sampled_from([None, 10.0, 20.0, 30.0]), spin1_temp_c=_TEMPS, spin1_brake=_FLAGS,
    spin2_g=st.sampled_from([None, 2000.0, 16000.0]), spin2_min=st.sampled_from([None, 10.0]),
    spin2_temp_c=_TEMPS, spin2_brake=_FLAGS, spin2_done=_FLAGS, postspin_temp_c=_TEMPS, frozen_at=_MOMENTS,
    storage_temp_c=_TEMPS,
    storage_container=st.sampled_from([None, "PP", "CRYO", "PRIMARY", "PARAFFIN", "BAG"]),
    storage_via_minus80=_FLAGS, aliquot_volume_ul=st.sampled_from([None, 20.0, 100.0, 500.0, 3000.0]),
    spun=_FLAGS, last_spin_ended_at=_MOMENTS)
_SOLIDS = st.builds(
    SolidPreanalytics, sprec_type=st.sampled_from([None, "TIS"]),
    collection_type=st.sampled_from([None, "SRG", "BPS"]), clamped_at=_MOMENTS, excised_at=_MOMENTS,
    fixation_started_at=_MOMENTS, fixation_ended_at=_MOMENTS,
    fixation_type=st.sampled_from([None, "NBF", "SNP"]),
    storage_temp_c=_TEMPS, storage_container=st.sampled_from([None, "PP", "CRYO", "PARAFFIN"]),
    storage_via_minus80=_FLAGS)


@settings(max_examples=300, deadline=None)
@given(p=st.one_of(_FLUIDS, _SOLIDS))
def test_code_and_explanation_come_from_the_same_rules(p: FluidPreanalytics | SolidPreanalytics) -> None:
    """derive() writes no reasons, yet gives the letters explain() gives, element by element."""
    elements = explain(p)
    assert derive(p) == "-".join(letter for _, letter, _ in elements)
    assert len(elements) == 7 and all(reason for _, _, reason in elements)
