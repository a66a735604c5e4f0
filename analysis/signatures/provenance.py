"""What a run needs to be reproduced: dataset hash, package versions, time stamps."""

from __future__ import annotations

import hashlib
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata

import pandas as pd

PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "lifelines", "joblib", "matplotlib")


def dataset_sha256(df: pd.DataFrame, columns: list[str]) -> str:
    """SHA-256 of the used columns (with the row index) written as CSV with full float precision."""
    text = df[columns].to_csv(index=True, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and the numerical packages the result depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
