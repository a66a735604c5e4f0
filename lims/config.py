"""Configuration: safe defaults, then ``LIMS_*`` environment variables, then a test mapping."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULT_PROTOCOL = str(Path(__file__).parent / "protocols" / "escc_ww.toml")


def defaults(instance_path: str) -> dict[str, Any]:
    """Return the built-in defaults, with the database in the instance folder."""
    return {
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / 'trialbank.db'}",
        "PROTOCOL_FILE": DEFAULT_PROTOCOL,
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=30),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
        "PAGE_SIZE": 50,
        # Screens and exports that read more marker results than this run as background jobs; smaller ones
        # run in the request, through the same function.
        "JOB_ABOVE_ROWS": 50_000,
        # Marker results uploads larger than this (bytes) are imported by a job (the same importer).
        "IMPORT_JOB_ABOVE_BYTES": 5_000_000,
        "API_TITLE": "Trialbank",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs-assets/",
        "WTF_CSRF_TIME_LIMIT": None,
        # The REDCap project's API (LIMS_REDCAP_URL ending in /api/, LIMS_REDCAP_TOKEN, a secret): when both
        # are set the workers pull and import it every REDCAP_SYNC_MINUTES (0: every scheduler round).
        "REDCAP_URL": None,
        "REDCAP_TOKEN": None,
        "REDCAP_SYNC_MINUTES": 0,
    }


# Read from the environment as text, never parsed as JSON.
_VERBATIM = ("REDCAP_URL", "REDCAP_TOKEN")


def instance_secret(instance_path: str) -> str:
    """Return the instance's secret key, generating and keeping it on first use."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def configure(app: Flask, config: dict[str, Any] | None) -> None:
    """Apply defaults, the ``LIMS_*`` environment and the explicit mapping, in that order."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_prefixed_env("LIMS")
    # secrets and addresses as typed (from_prefixed_env would read "12e4..." as a number)
    for key in _VERBATIM:
        if f"LIMS_{key}" in os.environ:
            app.config[key] = os.environ[f"LIMS_{key}"]
    if config:
        app.config.from_mapping(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path)
