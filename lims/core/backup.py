"""Consistent online backups with a checksum, and restores that check before they replace anything.

SQLite uses the online backup API (a consistent copy while the app keeps running); PostgreSQL uses
``pg_dump`` in custom format and ``pg_restore``. Each backup is three files: the data, a
``.sha256`` checksum and a ``.json`` manifest with the schema revision it was taken at.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from lims import __version__
from lims.core.database import make_engine
from lims.core.errors import DomainError
from lims.core.migrate import current_revision, head_revision


@dataclass(frozen=True)
class BackupFiles:
    data: Path
    checksum: Path
    manifest: Path
    revision: str | None
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_tool(name: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return str(candidates[-1])
    found = shutil.which(name)
    if found is None:
        raise DomainError(f"{name} is not installed: install PostgreSQL's client tools")
    return found


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    env = {"PGPASSWORD": u.password} if u.password else {}
    return args, env


def backup(url: str, out_dir: str | Path) -> BackupFiles:
    """Write a timestamped, consistent backup of the database at ``url`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        data = out / f"trialbank-{stamp}.sqlite"
        src = sqlite3.connect(u.database or "")
        dst = sqlite3.connect(data)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    elif u.get_backend_name() == "postgresql":
        data = out / f"trialbank-{stamp}.pgdump"
        args, env = _pg_args(url)
        result = subprocess.run([_pg_tool("pg_dump"), *args, "-Fc", "--no-owner", "-f", str(data),
                                 u.database or ""],
                                capture_output=True, text=True, env={**_base_env(), **env}, check=False)
        if result.returncode != 0:
            raise DomainError(f"pg_dump failed: {result.stderr.strip()}")
    else:
        raise DomainError(f"backups of {u.get_backend_name()} databases are not supported")
    sha = _sha256(data)
    checksum = data.with_suffix(data.suffix + ".sha256")
    checksum.write_text(f"{sha}  {data.name}\n")
    manifest = data.with_suffix(data.suffix + ".json")
    manifest.write_text(json.dumps({
        "file": data.name, "sha256": sha, "schema_revision": revision, "backend": u.get_backend_name(),
        "created_at": datetime.now(UTC).isoformat(), "trialbank_version": __version__,
    }, indent=2))
    return BackupFiles(data, checksum, manifest, revision, sha)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PGSSLMODE")}


def verify(data: str | Path, url: str) -> dict[str, object]:
    """Check a backup's checksum and schema revision; return its manifest or raise with the reason."""
    path = Path(data)
    if not path.exists():
        raise DomainError(f"no backup file {path}")
    checksum = path.with_suffix(path.suffix + ".sha256")
    manifest_path = path.with_suffix(path.suffix + ".json")
    if not checksum.exists() or not manifest_path.exists():
        raise DomainError(f"{path.name}: its .sha256 and .json files must sit next to it")
    expected = checksum.read_text().split()[0]
    actual = _sha256(path)
    if actual != expected:
        raise DomainError(f"{path.name}: checksum mismatch (file {actual[:12]}…, recorded {expected[:12]}…): "
                          "the backup is damaged or was changed; nothing was restored")
    manifest = json.loads(manifest_path.read_text())
    head = head_revision(url)
    if manifest.get("schema_revision") is None:
        raise DomainError(f"{path.name}: the backup holds no schema revision; nothing was restored")
    from alembic.script import ScriptDirectory

    from lims.core.migrate import alembic_config

    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}
    if manifest["schema_revision"] not in known:
        raise DomainError(f"{path.name}: schema revision {manifest['schema_revision']} is unknown to this "
                          f"Trialbank (head {head}); restore it with the version that made it")
    backend = make_url(url).get_backend_name()
    if manifest.get("backend") != backend:
        raise DomainError(f"{path.name}: a {manifest.get('backend')} backup cannot be restored into "
                          f"{backend}")
    return manifest


def restore(data: str | Path, url: str) -> dict[str, object]:
    """Replace the database at ``url`` with a verified backup."""
    manifest = verify(data, url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        src = sqlite3.connect(Path(data))
        dst = sqlite3.connect(u.database or "")
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        args, env = _pg_args(url)
        result = subprocess.run([_pg_tool("pg_restore"), *args, "--clean", "--if-exists", "--no-owner",
                                 "--single-transaction", "-d", u.database or "", str(data)],
                                capture_output=True, text=True, env={**_base_env(), **env}, check=False)
        if result.returncode != 0:
            raise DomainError(f"pg_restore failed: {result.stderr.strip()}")
    return manifest
