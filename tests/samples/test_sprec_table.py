"""SPREC against a table of codes derived by hand from raw bench values (SPREC 2.0 letters, 3.0 container
codes).

Each case gives the raw values a technician records and the code worked out by hand, element by element, from
the standard's bands (lims/samples/sprec.py documents the bands and the choices):

  pre-centrifugation   A RT <2 h, B 2-10 °C <2 h, C/D 2-4 h, E/F 4-8 h, G/H 8-12 h, I/J 12-24 h, K/L 24-48 h,
                       M/N >=48 h (RT/cold), O 35-38 °C <2 h
  centrifugation       A/B RT <3000 g 10-15 min without/with brake, C/D the same at 2-10 °C, E/F 3000-6000 g
  RT/cold,
                       G/H 6000-10000 g, I/J >10000 g, M RT <1000 g ~30 min no brake (density gradient), N
                       none
  post-centrifugation  A/B <1 h cold/RT, C/D 1-2 h, E/F 2-8 h, G/H 8-24 h, I/J >24 h, N not applicable
  storage              A PP 0.5-2 mL -80, B PP 0.5-2 mL -20, S/T PP 40-500 µL -80/-20, V/W PP below -135 °C,
                       C cryotube in LN, N cryotube in LN after -80, D cryotube -80, Y primary container -80
                       or
                       -20, P paraffin block
  solid                ischaemia A <2, B 2-10, C 10-20, D 20-30, E 30-60, F >60 min; fixation time A <15 min,
                       B <=1 h, C 1-4 h, D 4-8 h, E 8-24 h, F 24-48 h, G 48-72 h; N for frozen or biopsies
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims.samples.sprec import FluidPreanalytics, SolidPreanalytics, derive

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fluid(**values: object) -> FluidPreanalytics:
    return FluidPreanalytics(collected_at=T0, **values)  # type: ignore[arg-type]


SPIN_RT_BRAKE = {"spin1_g": 1800, "spin1_min": 10, "spin1_temp_c": 20, "spin1_brake": True}
SECOND_16000 = {"spin2_done": True, "spin2_g": 16000, "spin2_min": 10, "spin2_temp_c": 20,
                "spin2_brake": True}

CASES = [
    # 1. EDTA ctDNA plasma: 80 min at 21 °C (A); 1800 g 10 min RT brake (B); 16000 g (I); 30 min at 4 °C (A);
    #    1 mL PP at -80 (A).
    ("edta ctDNA plasma", fluid(
        sprec_type="PL2", container_code="PED", processing_started_at=m(80), precentrifugation_temp_c=21,
        **SPIN_RT_BRAKE, **SECOND_16000, last_spin_ended_at=m(110), postspin_temp_c=4, frozen_at=m(140),
        storage_temp_c=-80, storage_container="PP", aliquot_volume_ul=1000), "PL2-PED-A-B-I-A-A"),
    # 2. Streck plasma spun after 30 h at RT (K, 24-48 h); same spins; 20 min at 4 °C (A); -80 PP (A).
    ("streck plasma next day", fluid(
        sprec_type="PL2", container_code="SCK", processing_started_at=m(1800), precentrifugation_temp_c=22,
        **SPIN_RT_BRAKE, **SECOND_16000, last_spin_ended_at=m(1830), postspin_temp_c=4, frozen_at=m(1850),
        storage_temp_c=-80, storage_container="PP", aliquot_volume_ul=1000), "PL2-SCK-K-B-I-A-A"),
    # 3. The same tube kept in a -140 °C freezer: PP 0.5-2 mL below -135 °C is V.
    ("streck plasma at -140", fluid(
        sprec_type="PL2", container_code="SCK", processing_started_at=m(1800), precentrifugation_temp_c=22,
        **SPIN_RT_BRAKE, **SECOND_16000, last_spin_ended_at=m(1830), postspin_temp_c=4, frozen_at=m(1850),
        storage_temp_c=-140, storage_container="PP", aliquot_volume_ul=1000), "PL2-SCK-K-B-I-A-V"),
    # 4. Serum: clotted 45 min at RT (A); 2000 g 10 min RT brake (B); no second spin (N); 50 min at RT (B);
    #    0.5 mL PP at -80 (A: 500 µL belongs to 0.5-2 mL).
    ("serum", fluid(
        sprec_type="SER", container_code="SST", processing_started_at=m(45), precentrifugation_temp_c=21,
        spin1_g=2000, spin1_min=10, spin1_temp_c=21, spin1_brake=True, spin2_done=False,
        last_spin_ended_at=m(55), postspin_temp_c=21, frozen_at=m(105), storage_temp_c=-80,
        storage_container="PP", aliquot_volume_ul=500), "SER-SST-A-B-N-B-A"),
    # 5. Buffy coat: 1 h RT (A); 2000 g 10 min at 4 °C with brake (D); none (N); 90 min at 4 °C (C);
    #    cryotube at -80 (D).
    ("buffy coat", fluid(
        sprec_type="BFF", container_code="PED", processing_started_at=m(60), precentrifugation_temp_c=20,
        spin1_g=2000, spin1_min=10, spin1_temp_c=4, spin1_brake=True, spin2_done=False,
        last_spin_ended_at=m(70), postspin_temp_c=4, frozen_at=m(160), storage_temp_c=-80,
        storage_container="CRYO"), "BFF-PED-A-D-N-C-D"),
    # 6. PBMC from a CPT: 3 h RT (C); Ficoll 400 g 30 min RT no brake (M); none (N); viable cells (N);
    #    cryotube in LN after -80 (N).
    ("pbmc via -80", fluid(
        sprec_type="CEL", container_code="CPT", processing_started_at=m(180), precentrifugation_temp_c=21,
        spin1_g=400, spin1_min=30, spin1_temp_c=21, spin1_brake=False, spin2_done=False, frozen_at=m(300),
        storage_temp_c=-196, storage_container="CRYO", storage_via_minus80=True), "CEL-CPT-C-M-N-N-N"),
    # 7. The same cells straight into liquid nitrogen: C.
    ("pbmc straight to LN", fluid(
        sprec_type="CEL", container_code="CPT", processing_started_at=m(180), precentrifugation_temp_c=21,
        spin1_g=400, spin1_min=30, spin1_temp_c=21, spin1_brake=False, spin2_done=False, frozen_at=m(300),
        storage_temp_c=-196, storage_container="CRYO", storage_via_minus80=False), "CEL-CPT-C-M-N-N-C"),
    # 8. Stool in a stabiliser tube (OMN), processed after 20 h at RT (I); not centrifuged (N N N);
    #    cryotube at -80 (D).
    ("stool", fluid(
        sprec_type="STL", container_code="OMN", processing_started_at=m(1200), precentrifugation_temp_c=21,
        spun=False, frozen_at=m(1240), storage_temp_c=-80, storage_container="CRYO"), "STL-OMN-I-N-N-N-D"),
    # 9. Whole blood frozen in its primary tube at -20 °C after 30 min at RT: A, N N N, Y (primary at -20).
    ("whole blood primary -20", fluid(
        sprec_type="BLD", container_code="PED", processing_started_at=m(30), precentrifugation_temp_c=21,
        spun=False, frozen_at=m(30), storage_temp_c=-20, storage_container="PRIMARY"), "BLD-PED-A-N-N-N-Y"),
    # 10. Plasma kept 5 h at 4 °C (F); 3000 g 10 min at 4 °C (F: 3000-6000 g cold); none (N);
    #     150 min at RT (F: 2-8 h RT); 300 µL PP at -20 (T).
    ("cold single-spun plasma", fluid(
        sprec_type="PL1", container_code="PED", processing_started_at=m(300), precentrifugation_temp_c=4,
        spin1_g=3000, spin1_min=10, spin1_temp_c=4, spin1_brake=True, spin2_done=False,
        last_spin_ended_at=m(310), postspin_temp_c=22, frozen_at=m(460), storage_temp_c=-20,
        storage_container="PP", aliquot_volume_ul=300), "PL1-PED-F-F-N-F-T"),
    # 11. Serum kept at 37 °C for 1 h (O); 7000 g 12 min RT (G); none (N); 10 h at 4 °C (G: 8-24 h cold);
    #     1 mL PP at -20 (B).
    ("body-temperature serum", fluid(
        sprec_type="SER", container_code="SST", processing_started_at=m(60), precentrifugation_temp_c=37,
        spin1_g=7000, spin1_min=12, spin1_temp_c=21, spin1_brake=True, spin2_done=False,
        last_spin_ended_at=m(72), postspin_temp_c=4, frozen_at=m(672), storage_temp_c=-20,
        storage_container="PP", aliquot_volume_ul=1000), "SER-SST-O-G-N-G-B"),
    # 12. Nothing recorded but type and container: every element unknown (X), never guessed.
    ("nothing recorded", FluidPreanalytics(sprec_type="PL2", container_code="PED"), "PL2-PED-X-X-X-X-X"),
    # 13. Resection, FFPE: clamping to excision 45 min (E); excision to formalin 15 min (C); NBF; 30 h (F);
    #     paraffin block (P).
    ("ffpe resection", SolidPreanalytics(
        sprec_type="TIS", collection_type="SRG", clamped_at=m(0), excised_at=m(45), fixation_started_at=m(60),
        fixation_ended_at=m(60 + 30 * 60), fixation_type="NBF", storage_temp_c=20,
        storage_container="PARAFFIN"),
     "TIS-SRG-E-C-NBF-F-P"),
    # 14. Biopsy, FFPE: no clamping (N); 1 min to formalin (A); NBF 10 h (E); paraffin (P).
    ("ffpe biopsy", SolidPreanalytics(
        sprec_type="TIS", collection_type="BPS", excised_at=m(0), fixation_started_at=m(1),
        fixation_ended_at=m(1 + 600), fixation_type="NBF", storage_temp_c=21, storage_container="PARAFFIN"),
     "TIS-BPS-N-A-NBF-E-P"),
    # 15. Biopsy snap frozen after 1 min (A), frozen so no fixation time (N), cryotube at -80 (D).
    ("frozen biopsy", SolidPreanalytics(
        sprec_type="TIS", collection_type="BPS", excised_at=m(0), fixation_started_at=m(1),
        fixation_type="SNP",
        storage_temp_c=-80, storage_container="CRYO"), "TIS-BPS-N-A-SNP-N-D"),
    # 16. Resection tumour, warm 25 min (D), cold 8 min (B), snap frozen, straight into LN: C (it used to be
    # X).
    ("frozen resection in LN", SolidPreanalytics(
        sprec_type="TIS", collection_type="SRG", clamped_at=m(0), excised_at=m(25), fixation_started_at=m(33),
        fixation_type="SNP", storage_temp_c=-196, storage_container="CRYO", storage_via_minus80=False),
     "TIS-SRG-D-B-SNP-N-C"),
    # 17. The same, kept at -80 first and then moved to LN: N.
    ("frozen resection via -80", SolidPreanalytics(
        sprec_type="TIS", collection_type="SRG", clamped_at=m(0), excised_at=m(25), fixation_started_at=m(33),
        fixation_type="SNP", storage_temp_c=-190, storage_container="CRYO", storage_via_minus80=True),
     "TIS-SRG-D-B-SNP-N-N"),
    # 18. Resection with no clamping time: warm ischaemia unknown (X); 70 min cold (F); NBF 50 h (G).
    ("resection without clamping time", SolidPreanalytics(
        sprec_type="TIS", collection_type="SRG", excised_at=m(0), fixation_started_at=m(70),
        fixation_ended_at=m(70 + 50 * 60), fixation_type="NBF", storage_temp_c=20,
        storage_container="PARAFFIN"),
     "TIS-SRG-X-F-NBF-G-P"),
]


@pytest.mark.parametrize(("name", "values", "code"), CASES, ids=[c[0] for c in CASES])
def test_hand_derived_sprec(name: str, values: object, code: str) -> None:
    assert derive(values) == code  # type: ignore[arg-type]


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 15 and len({code for _, _, code in CASES}) == len(CASES)
