"""Run R at test time as the reference implementation (R's own datasets and packages, same rows both sides).

``run_r(code, inputs)`` writes each input frame to CSV, runs ``code`` with Rscript and returns every frame
the code wrote with ``out(x, "name")`` (numbers printed with 17 significant digits, so nothing is lost in
the round trip). R's datasets are written from R (``out(survival::pbc, "pbc")``) and read back here, so both
sides see exactly the same rows. Tests skip with a reason when Rscript is missing (CI installs it: Debian's
r-base-core, r-cran-survival, r-cran-cmprsk, r-cran-maxstat, r-cran-proc) and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

RSCRIPT = os.environ.get("LIMS_RSCRIPT") or shutil.which("Rscript") or ""

PRELUDE = r"""
suppressPackageStartupMessages({%(libraries)s})
.dir <- "%(dir)s"
inp <- function(name) read.csv(file.path(.dir, paste0(name, ".csv")))
out <- function(x, name) {
  x <- as.data.frame(x)
  for (col in names(x)) if (is.numeric(x[[col]])) x[[col]] <- sprintf("%%.17g", x[[col]])
  write.csv(x, file.path(.dir, paste0("out_", name, ".csv")), row.names = TRUE, na = "NA")
}
"""


def require_r() -> str:
    """Return the Rscript path, or skip (fail in CI) when R is not installed."""
    if RSCRIPT and Path(RSCRIPT).exists():
        return RSCRIPT
    message = ("Rscript not found: R is the reference for these statistics; apt-get install r-base-core "
               "r-cran-survival r-cran-cmprsk r-cran-maxstat r-cran-proc")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


def run_r(code: str, inputs: dict[str, pd.DataFrame] | None = None,
          libraries: tuple[str, ...] = ("survival",)) -> dict[str, pd.DataFrame]:
    """Run ``code`` in R and return the frames it wrote with ``out(x, name)``, indexed by R's row names."""
    rscript = require_r()
    with tempfile.TemporaryDirectory(prefix="r-oracle-") as tmp:
        for name, frame in (inputs or {}).items():
            frame.to_csv(Path(tmp) / f"{name}.csv", index=False, float_format="%.17g")
        prelude = PRELUDE % {"dir": tmp, "libraries": "; ".join(f"library({lib})" for lib in libraries)}
        script = Path(tmp) / "script.R"
        script.write_text(prelude + code)
        done = subprocess.run([rscript, "--vanilla", str(script)], capture_output=True, text=True,
                              timeout=300,
                              check=False)
        if done.returncode != 0:
            raise AssertionError(f"R failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return {p.stem[4:]: pd.read_csv(p, index_col=0) for p in Path(tmp).glob("out_*.csv")}
