"""One entry point for uploaded clinical files, shared by the import page, the JSON API and the CLI."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.clinical.csvfiles import Issue, decode
from lims.clinical.importer import ImportReport, import_tables
from lims.clinical.redcap import import_redcap
from lims.core.errors import DomainError
from lims.core.spreadsheet import TextError
from lims.studies.models import Study


def import_upload(session: Session, study: Study, fmt: str, files: list[tuple[str, bytes]],
                  mapping: tuple[str, bytes] | None = None, *, by: User,
                  signature: tuple[str, str] | None) -> ImportReport:
    """Import a REDCap export (first file, with an optional mapping) or Trialbank per-table CSVs."""
    if not files:
        raise DomainError("choose at least one file", field="files")
    if fmt == "redcap":
        if len(files) > 1:
            raise DomainError("a REDCap import takes one export file (and its mapping)", field="files")
        name, data = files[0]
        mapping_name = mapping[0] if mapping else "redcap_mapping.yaml"
        try:
            mapping_text = decode(mapping[1]) if mapping else None
        except TextError as exc:
            return ImportReport(format=fmt, files=[name, mapping_name],
                                problems=[Issue(mapping_name, exc.line, "", exc.value, exc.reason)])
        return import_redcap(session, study, name or "export.csv", data, by=by, mapping_name=mapping_name,
                             mapping_text=mapping_text, signature=signature)
    if fmt == "tables":
        return import_tables(session, study, dict(files), by=by, signature=signature)
    raise DomainError("format must be redcap or tables", field="format")
