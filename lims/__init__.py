"""Trialbank: a laboratory information system for the translational side of clinical trials."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parent.parent


def _instance_path(config: dict[str, Any] | None) -> str | None:
    path = (config or {}).get("INSTANCE_PATH") or os.environ.get("LIMS_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application; it never touches the schema (use ``lims db upgrade``)."""
    # Building the app makes some hundred thousand objects that live as long as the process (modules, classes,
    # mappers, schemas, routes): the cyclic garbage collector, left on, would scan them again and again while
    # they are made, a fifth of the start-up time (issue 17.4). It is paused until the app is built.
    from lims.core.collector import gc_paused

    with gc_paused():
        from lims import config as config_module
        from lims.app import init_app

        app = Flask(
            __name__,
            template_folder=str(ROOT / "templates"),
            static_folder=str(ROOT / "static"),
            instance_path=_instance_path(config),
            instance_relative_config=True,
        )
        config_module.configure(app, config)
        init_app(app)
    return app
