"""Pull a REDCap project's records through its API (PyCap) and import them like an uploaded flat export.

The API answers ``content=record, type=flat, rawOrLabel=raw, rawOrLabelHeaders=raw`` with the same rows and
columns as the "CSV (raw data)" file export: one row per record x event (x repeat instance), unique event
names, checkbox fields as ``field___code``. Records are asked for as JSON (so that REDCap's error answers are
recognised) and written back as that CSV, which goes through ``lims.clinical.redcap.import_redcap``, the one
reader and importer of REDCap data, exactly as a file upload does.

The token is a secret: it is only ever sent in the POST body, never logged, shown, kept in a job's
parameters or put in a message (``RedcapUnavailable`` says what went wrong without it).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lims.core.errors import DomainError

if TYPE_CHECKING:
    from redcap import Project

log = logging.getLogger(__name__)
TIMEOUT = 60  # seconds per API request


class RedcapUnavailable(DomainError):
    """REDCap could not be asked (unreachable, refused the token, answered nonsense); the message has no
    token."""


@dataclass(frozen=True)
class RedcapSource:
    """Where the project's API is and the project's API token (never in repr)."""

    url: str
    token: str = field(repr=False)

    @property
    def name(self) -> str:
        """The name the pulled export gets in import reports and runs (the server, not the token)."""
        return f"REDCap API ({urlsplit(self.url).netloc or self.url})"


def configured_source(config: Any) -> RedcapSource | None:
    """Return the configured REDCap API (``REDCAP_URL`` and ``REDCAP_TOKEN``), or None when either is
    unset."""
    url, token = config.get("REDCAP_URL"), config.get("REDCAP_TOKEN")
    if not url or not token:
        return None
    return RedcapSource(str(url).strip(), str(token).strip())


def _check(source: RedcapSource) -> None:
    """Refuse a URL or token REDCap never accepts (PyCap's own checks would put the token in their
    message)."""
    if not source.url.endswith("/api/") or urlsplit(source.url).scheme not in ("http", "https"):
        raise RedcapUnavailable("REDCAP_URL must be the project's API address ending in /api/ (not "
                                f"{source.url!r})")
    if len(source.token) != 32:
        raise RedcapUnavailable("REDCAP_TOKEN is not a REDCap API token (32 characters)")


def _scrub(text: str, source: RedcapSource) -> str:
    return text.replace(source.token, "[token]") if source.token else text


def _ask(source: RedcapSource, what: str, call: Any) -> Any:
    """Run one PyCap call; turn every way it can fail into RedcapUnavailable with a clear, token-free
    reason."""
    from redcap import RedcapError  # PyCap and requests load when REDCap is asked, not at start-up

    try:
        return call()
    except RedcapError as exc:
        if type(exc) is not RedcapError:  # PyCap's RedcapError is requests' RequestException itself
            reason = _scrub(f"{type(exc).__name__}: {exc}", source)
            raise RedcapUnavailable(
                f"REDCap at {source.url} could not be asked for {what} ({reason})") from None
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, dict):
            detail = detail.get("error", detail)
        raise RedcapUnavailable(_scrub(f"REDCap at {source.url} refused to export {what}: {detail}",
                                       source)) from None
    # PyCap's checks (their message may hold the token)
    except (AssertionError, ValueError, IndexError) as exc:
        log.info("REDCap %s: PyCap refused the request (%s)", what, type(exc).__name__)
        raise RedcapUnavailable(f"REDCap at {source.url}: PyCap could not ask for {what} "
                                f"({type(exc).__name__})") from None


def _project(source: RedcapSource) -> Project:
    from redcap import Project  # PyCap and requests load when REDCap is asked, not at start-up

    _check(source)
    return _ask(source, "the project", lambda: Project(source.url, source.token, timeout=TIMEOUT))


def fetch_export(source: RedcapSource) -> bytes:
    """Export every record as the flat CSV (raw codes, unique event names) a REDCap file export holds."""
    project = _project(source)
    records = _ask(source, "records", lambda: project.export_records(
        format_type="json", record_type="flat", raw_or_label="raw", raw_or_label_headers="raw",
        event_name="unique",
        export_survey_fields=False, export_data_access_groups=False, export_checkbox_labels=False))
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RedcapUnavailable(f"REDCap at {source.url} answered the record export with something else than "
                                "records")
    if not records:  # a project with no records: its file export is a header of the record id alone
        return (_ask(source, "the data dictionary", lambda: project.def_field) + "\n").encode("utf-8")
    columns = list(records[0])
    for record in records[1:]:
        columns += [c for c in record if c not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # as REDCap writes its CSV: cells exactly as stored
    writer.writerow(columns)
    writer.writerows([_text(record.get(c)) for c in columns] for record in records)
    return out.getvalue().encode("utf-8")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
