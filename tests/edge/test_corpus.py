"""The malformed-input corpus: every file through the service, the page and the JSON API.

``corpus/expected.toml`` says what each file must do: be refused with a problem naming its row, field and
reason (and leave every table as it was), or, when it is merely odd, import correctly. Never a 500.
"""

from __future__ import annotations

import html
import io
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lims.clinical.uploads import import_upload
from lims.markers.importer import ImportFailed, import_results
from tests.conftest import PASSWORD
from tests.edge.conftest import row_counts

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
PATHS = ("service", "page", "api")


def test_every_corpus_file_has_an_expectation() -> None:
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*")}
    assert files == set(EXPECTED), "corpus files and expected.toml disagree"
    assert len(files) >= 40
    kinds = {entry["kind"] for entry in EXPECTED.values()}
    assert kinds == {"markers", "tables", "redcap", "mapping"}


def _upload(relative: str) -> tuple[str, bytes]:
    """Return the name a file is uploaded under (``treatment--nan-dose.csv`` -> ``treatment.csv``) and its
    bytes."""
    path = CORPUS / relative
    name = path.name.split("--", 1)[0] + path.suffix if "--" in path.name else path.name
    return name, path.read_bytes()


def _clinical_files(relative: str, entry: dict[str, Any]) -> tuple[str, list[tuple[str, bytes]], Any]:
    """Return (format, files, mapping) of a clinical corpus entry."""
    if entry["kind"] == "tables":
        return "tables", [_upload(relative)], None
    if entry["kind"] == "mapping":
        return "redcap", [_upload(entry["export"])], _upload(relative)
    return "redcap", [_upload(relative)], _upload(entry["mapping"]) if "mapping" in entry else None


def _problems(path: str, entry: dict[str, Any], session: Any, study: Any, user: Any,
              login: Any) -> list[dict]:
    """Import the entry along one path; return the problems reported (empty when it was imported)."""
    relative = entry["relative"]
    if entry["kind"] == "markers":
        name, data = _upload(relative)
        if path == "service":
            try:
                import_results(session, data, filename=name, by=user("data_manager"))
            except ImportFailed as exc:
                return [{"row": p.row, "field": p.column, "reason": p.reason} for p in exc.report.problems]
            return []
        client = login("data_manager")
        url = "/markers/import" if path == "page" else "/api/v1/markers/imports"
        response = client.post(url, data={"file": (io.BytesIO(data), name)},
                               content_type="multipart/form-data")
        return _answer(response, path, ok={"page": 200, "api": 201}[path], field="column")
    fmt, files, mapping = _clinical_files(relative, entry)
    if path == "service":
        report = import_upload(session, study, fmt, files, mapping, by=user("data_manager"), signature=None)
        return [] if report.applied else [{"row": i.row, "field": i.field, "reason": i.reason}
                                          for i in report.problems]
    client = login("data_manager")
    form: dict[str, Any] = {"format": fmt, "password": PASSWORD, "meaning": "performed",
                            "files": [(io.BytesIO(d), n) for n, d in files]}
    if mapping is not None:
        form["mapping"] = (io.BytesIO(mapping[1]), mapping[0])
    url = "/clinical/import" if path == "page" else "/api/v1/clinical/imports"
    return _answer(client.post(url, data=form, content_type="multipart/form-data"), path, ok=200,
                   field="field")


def _answer(response: Any, path: str, *, ok: int, field: str) -> list[dict]:
    """Read the problems out of a page or API answer (which must be a clean success or a 422)."""
    assert response.status_code in (ok, 422), (response.status_code, response.get_data(as_text=True)[:500])
    if response.status_code == ok:
        return []
    if path == "api":
        body = response.get_json()
        assert body["code"] == 422 and body["message"].startswith("nothing was imported")
        return [{"row": p["row"], "field": p[field], "reason": p["reason"]}
                for p in body["report"]["problems"]]
    return [{"page": html.unescape(response.get_data(as_text=True))}]


def _matches(problem: dict, want: dict[str, Any]) -> bool:
    if "page" in problem:
        return want["reason"] in problem["page"]
    return ((problem["row"] or 0) == want["row"] and (problem["field"] or "") == want["field"]
            and want["reason"] in problem["reason"])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_corpus_file(relative: str, path: str, session, study, edge, user, login) -> None:
    entry = {**EXPECTED[relative], "relative": relative}
    before = row_counts(session)
    problems = _problems(path, entry, session, study, user, login)
    after = row_counts(session)
    if "refused" in entry:
        want = entry["refused"]
        assert any(_matches(p, want) for p in problems), (want, problems[:5])
        assert after == before, "a refused file must not write anything"
    else:
        assert problems == [], problems[:5]
        grew = {table: after[table] - before[table] for table in after if after[table] != before[table]}
        if entry["kind"] == "markers":
            assert grew["marker_result"] == entry["imported"] and grew["marker_import"] == 1
        else:
            assert grew["clinical_import_run"] == 1
            assert sum(n for t, n in grew.items() if t.startswith("clinical_") and t not in (
                "clinical_import_run", "clinical_change")) == entry["imported"]
