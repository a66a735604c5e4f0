"""Write the malformed-input corpus (run once; the files are committed): ``python
tests/edge/corpus/make_corpus.py``.

Text files are written byte for byte from the literals below; workbooks are built with openpyxl (and then
broken where the case asks for it). ``expected.toml`` says what each file must do.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
S1, S2, P1, P2, F1 = "TB-9000001-G", "TB-9000002-E", "TB-9000003-C", "TB-9000004-A", "TB-9000005-8"
LONG = "sample,marker,value,unit,qualifier,run_id,assay_date,operator\n"
GOOD = f"{S1},IL6,4.2,pg/mL,,R1,2025-03-01,ana\n{P1},CTDNA_VAF,0.35,%,,R1,2025-03-01,ana\n"


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def markers() -> dict[str, bytes]:
    valid_book = workbook([["sample", "IL6", "CTDNA_VAF (%)"], [S1, 4.2, None], [P1, None, 0.35]])
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("readme.txt", "no workbook here")
    return {
        # refused
        "text-named.xlsx": (LONG + GOOD).encode(),
        "zip-without-workbook.xlsx": zipped.getvalue(),
        "truncated.xlsx": valid_book[: len(valid_book) // 2],
        "old-excel.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
        "png-named.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        "nan-value.csv": (LONG + f"{S1},IL6,NaN,pg/mL,,R1,2025-03-01,ana\n").encode(),
        "infinite-values.csv": (LONG + f"{S1},IL6,inf,pg/mL,,R1,,\n{S2},IL6,-Infinity,pg/mL,,R1,,\n"
                                f"{P1},CTDNA_VAF,1e999,%,,R1,,\n").encode(),
        "overflow-after-conversion.csv": (LONG + f"{S1},IL6,1e306,g/L,,R1,,\n").encode(),
        "huge-cell.csv": (LONG + f"{S1},IL6,4.2,pg/mL,,R1,2025-03-01,{'x' * 40_000}\n").encode(),
        "latin1-after-bom.csv": b"\xef\xbb\xbf" + LONG.encode() + f"{S1},IL6,4.2,pg/mL,,R1,,".encode()
                                + b"Jos\xe9\n",
        "mixed-encoding.csv": (LONG + f"{S1},IL6,4.2,pg/mL,,R1,,José\n").encode()
                              + f"{S2},IL6,4.4,pg/mL,,R1,,".encode() + b"Jos\xe9\n",
        "nul-byte.csv": (LONG + f"{S1},IL6,4.2,pg/mL,,R1,,an").encode() + b"\x00a\n",
        "wrong-cell-count.csv": (LONG + GOOD + f"{S2},IL6,4.4,pg/mL,,R1,2025-03-01,ana,extra\n").encode(),
        "unclosed-quote.csv": (LONG + f'{S1},IL6,4.2,pg/mL,,"R1,2025-03-01,ana\n').encode(),
        "duplicate-header.csv": b"sample,marker,value,unit,value\n" + f"{S1},IL6,4.2,pg/mL,4.3\n".encode(),
        "empty-column-name.csv": b"sample,marker,,unit\n" + f"{S1},IL6,4.2,pg/mL\n".encode(),
        "empty.csv": b"",
        "header-only.csv": LONG.encode(),
        "no-sample-column.csv": b"tube,marker,value,unit\n" + f"{S1},IL6,4.2,pg/mL\n".encode(),
        "long-without-unit.csv": b"sample,marker,value\n" + f"{S1},IL6,4.2\n".encode(),
        "impossible-assay-dates.csv": (LONG + f"{S1},IL6,4.2,pg/mL,,R1,2025-02-30,ana\n"
                                       f"{P1},CTDNA_VAF,0.35,%,,R1,0925-03-01,ana\n").encode(),
        "run-id-too-long.csv": (LONG + f"{S1},IL6,4.2,pg/mL,,{'R' * 61},2025-03-01,ana\n").encode(),
        "formula-marker.csv": (LONG + f"{S1},=cmd|' /C calc'!A0,4.2,pg/mL,,R1,,\n").encode(),
        "wide-nan.xlsx": workbook([["sample", "IL6"], [S1, "nan"], [S2, float("inf")]]),
        "wide-beyond-header.xlsx": workbook([["sample", "IL6"], [S1, 4.2, "stray"]]),
        "wide-duplicate-marker.xlsx": workbook([["sample", "IL6", "il6"], [S1, 4.2, 4.3]]),
        # odd but valid
        "cr-only.csv": (LONG + GOOD).replace("\n", "\r").encode(),
        "bom-crlf.csv": b"\xef\xbb\xbf" + (LONG + GOOD).replace("\n", "\r\n").encode(),
        "blank-lines.csv": (LONG + "\n" + GOOD.replace("\n", "\n\n")).encode(),
        "semicolon-decimal-comma.csv": (LONG.replace(",", ";") + f"{S1};IL6;4,2;pg/mL;;R1;2025-03-01;ana\n")
        .encode(),
        "utf16-tabs.csv": (LONG.replace(",", "\t") + GOOD.replace(",", "\t").replace("ana", "José"))
        .encode("utf-16"),
        "workbook-named.csv": valid_book,
        "wide-excel-dates.xlsx": workbook([["sample", "IL6 [ng/mL]", "assay_date", "remeasurement"],
                                           [S1, 0.0042, datetime(2025, 3, 1), False], [None],  # noqa: DTZ001 - cells have no zone
                                           [S2, "<LOD", None, None]]),
        "long-with-gaps.xlsx": workbook([["Sample ID", "marker", "value", "unit"], [S1, "IL6", 4.2, "pg/mL"],
                                         [],
                                         [F1, "PDL1_CPS", 12, "score"]]),
    }


TREATMENT = "participant_id,rt_start,rt_end,rt_dose_gy,rt_fractions\n"
CRE = "participant_id,seq,date,overall,suvmax\n"


def tables() -> dict[str, bytes]:
    return {
        "treatment--nan-dose.csv": (TREATMENT + "ZJ-777,2025-01-13,2025-02-14,nan,23\n").encode(),
        "treatment--dose-above-range.csv": (TREATMENT + "ZJ-777,2025-01-13,2025-02-14,4140,23\n").encode(),
        "treatment--underscored-number.csv": (TREATMENT + "ZJ-777,2025-01-13,2025-02-14,41.4,2_3\n").encode(),
        "cre--infinite-suvmax.csv": (CRE + "ZJ-777,2,2025-06-20,cCR,inf\n").encode(),
        "cre--hour-25.csv": (CRE + "ZJ-777,2,2025-03-04T25:00,cCR,\n").encode(),
        "cre--year-0925.csv": (CRE + "ZJ-777,2,0925-06-20,cCR,\n").encode(),
        "cre--seq-15.csv": (CRE + "ZJ-777,15,2025-06-20,cCR,\n").encode(),
        "pathology--huge-node-count.csv": b"participant_id,surgery_date,ypt,ypn,ln_examined\n"
                                          b"NB-778,2025-05-05,ypT1,ypN0,1e30\n",
        "pathology--more-positive-than-stored.csv": b"participant_id,surgery_date,ypt,ypn,ln_positive\n"
                                                    b"NB-778,2025-05-05,ypT1,ypN1,25\n",
        "adverse_events--latin1-after-bom.csv": b"\xef\xbb\xbfparticipant_id,term,grade,onset_date\n"
                                                b"ZJ-777,Oesophagite \xe9rosive,2,2025-02-01\n",
        "adverse_events--cell-over-128k.csv": ("participant_id,term,grade,onset_date\n"
                                                f"ZJ-777,{'y' * 140_000},2,2025-02-01\n").encode(),
        "adverse_events--term-too-long.csv": ("participant_id,term,grade,onset_date\n"
                                              f"ZJ-777,{'z' * 121},2,2025-02-01\n").encode(),
        "qol_responses--answer-9.csv": (b"participant_id,instrument,timepoint,item,value\n"
                                        b"ZJ-777,QLQ-C30,BASELINE,1,9\n"),
        "deaths--nul.csv": b"participant_id,date,cause\nZJ-777,2026-01-0\x001,disease\n",
        # odd but valid
        "cre--cr-only.csv": (CRE + "ZJ-777,2,2025-06-20,cCR,3.5\n").replace("\n", "\r").encode(),
        "treatment--semicolons-crlf-bom.csv": (b"\xef\xbb\xbfparticipant_id;rt_start;rt_end;rt_dose_gy\r\n"
                                               b"NB-778;14/01/2025;15.02.2025;50,4\r\n"),
        "adverse_events--formula-term.csv": (b"participant_id,term,grade,onset_date\n"
                                             b"ZJ-777,=1+2,1,2025-02-01\n"),
    }


REDCAP = "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,"
TREATMENT_COLUMNS = "rt_start_date,rt_end_date,rt_dose_gy,rt_fractions\n"


def redcap() -> dict[str, bytes]:
    head = REDCAP + TREATMENT_COLUMNS
    adverse = REDCAP + "ae_term,ae_grade,ae_onset\n"
    return {
        "nan-dose.csv": (head + "NB-778,study_arm_1,,,2025-01-14,2025-02-15,nan,28\n").encode(),
        "hour-25.csv": (head + "NB-778,study_arm_1,,,2025-01-14T25:00,2025-02-15,50.4,28\n").encode(),
        "latin1-after-bom.csv": b"\xef\xbb\xbf" + adverse.encode()
        + b"ZJ-777,study_arm_1,adverse_event,1,Naus\xe9e,1,2025-02-01\n",
        "cell-over-128k.csv": (adverse + f"ZJ-777,study_arm_1,adverse_event,1,{'n' * 140_000},1,2025-02-01\n")
        .encode(),
        "unknown-event.csv": (head + "NB-778,week_99_arm_1,,,2025-01-14,2025-02-15,50.4,28\n").encode(),
        "unmapped-column.csv": (REDCAP + "rt_start_date,colour\n" + "NB-778,study_arm_1,,,2025-01-14,red\n")
        .encode(),
        "minimal.csv": (head + "NB-778,study_arm_1,,,2025-01-14,2025-02-15,50.4,28\n").encode(),
    }


MAPPING = """record_id: record_id
day_first: true
events: {study_arm_1: null}
forms:
  - table: treatment
    event: study_arm_1
    fields: {rt_start: rt_start_date, rt_end: rt_end_date, rt_dose_gy: rt_dose_gy, rt_fractions: rt_fractions}
"""


def mappings() -> dict[str, bytes]:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    return {
        "valid-minimal.yaml": MAPPING.encode(),
        "forms-not-a-list.yaml": MAPPING.replace("forms:\n  - table", "forms:\n    table").encode(),
        "fields-as-list.yaml": MAPPING.replace("fields: {rt_start: rt_start_date, rt_end: rt_end_date, "
                                               "rt_dose_gy: rt_dose_gy, rt_fractions: rt_fractions}",
                                               "fields: [rt_start_date, rt_end_date]").encode(),
        "codes-as-string.yaml": (MAPPING + "    codes: sex\n").encode(),
        "codes-nested-list.yaml": (MAPPING + "    codes: {rt_fractions: [1, 2]}\n").encode(),
        "items-as-string.yaml": (MAPPING + "  - table: qol_responses\n    events_of: timepoints\n"
                                 "    items: QLQ-C30\n").encode(),
        "day-first-sometimes.yaml": MAPPING.replace("day_first: true", "day_first: sometimes").encode(),
        "misspelt-key.yaml": MAPPING.replace("    fields:", "    feilds:").encode(),
        "events-as-list.yaml": MAPPING.replace("events: {study_arm_1: null}", "events: [study_arm_1]")
        .encode(),
        "record-id-as-table.yaml": MAPPING.replace("record_id: record_id", "record_id: {name: record_id}")
        .encode(),
        "unknown-computed-source.yaml": MAPPING.replace("rt_fractions: rt_fractions}",
                                                        "rt_fractions: '@week'}")
        .encode(),
        "unknown-attribute.yaml": MAPPING.replace("rt_fractions: rt_fractions}", "rt_fraction: rt_fractions}")
        .encode(),
        "not-yaml.yaml": MAPPING.replace("events: {study_arm_1: null}", "events: {study_arm_1: null")
        .encode(),
        "python-tag.yaml": (MAPPING + "extra: !!python/object/apply:os.system ['true']\n").encode(),
        "alias-bomb.yaml": (laughs + MAPPING).encode(),
        "latin1-after-bom.yaml": b"\xef\xbb\xbf# mapping r\xe9vis\xe9\n" + MAPPING.encode(),
    }


def main() -> None:
    for folder, files in (("markers", markers()), ("tables", tables()), ("redcap", redcap()),
                          ("mappings", mappings())):
        (HERE / folder).mkdir(exist_ok=True)
        for name, content in files.items():
            (HERE / folder / name).write_bytes(content)
        print(f"{folder}: {len(files)} files")  # noqa: T201 - a script run by hand to rebuild the corpus


if __name__ == "__main__":
    main()
