"""Start-up benchmark: the time of ``create_app()`` and ``lims --help``, and the memory of a fresh app.

Each command runs in a fresh interpreter (the best of ``--repeat`` runs) beside two baselines measured in the
same run: ``python -c pass`` (the interpreter alone) and ``python -c "import flask, sqlalchemy"`` (the web
stack any Flask + SQLAlchemy app starts from). Targets (issue 17.4): create_app() under 1 s and 150 MB,
``lims --help`` under 1 s.

Wall time depends on how busy the machine is; CPU time (user + system of the child) much less: both are
printed, with the load average. Bytecode is cached in a temporary folder (as an installed app's
``__pycache__`` would be) by one warm-up run. Peak memory is the child's own ``ru_maxrss``.

    python scripts/bench_startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.0
TARGET_MB = 150.0
LAZY = ("matplotlib", "statsmodels", "sklearn", "lifelines", "scipy", "pandas", "numpy", "pyarrow")
# Imported by the one feature that uses each (REDCap pulls, manifest keys, label bars, QR codes): see
# tests/test_startup.py, which guards both lists.
DEFERRED = ("redcap", "requests", "urllib3", "cryptography", "barcode", "PIL", "segno")
APP = "from lims import create_app; create_app()"
HELP = """
import contextlib, io
from lims.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--help"], prog_name="lims", standalone_mode=False)
    except SystemExit:
        pass
"""
LOADED = ("\nimport sys\nprint(','.join(sorted({m.split('.')[0] for m in sys.modules} & set("
          f"{(*LAZY, *DEFERRED)!r}))))")
PEAK = "\nimport resource, sys\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"


def measure(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Return the best wall seconds and the best CPU seconds (user + system) of running ``argv``."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return min(walls), min(cpus)


def run_code(code: str, env: dict[str, str]) -> tuple[str, str]:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True)
    return result.stdout, result.stderr


def peak_mb(code: str, env: dict[str, str]) -> float:
    """Return the peak RSS (MB) of a fresh interpreter that runs ``code``."""
    _, err = run_code(code + PEAK, env)
    return int(err.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench(env: dict[str, str], repeat: int) -> tuple[list[tuple[str, float, float, float]], str]:
    loaded = run_code(APP + LOADED, env)[0].strip()  # also the warm-up that writes the bytecode cache
    run_code(HELP, env)
    lims = Path(sys.executable).with_name("lims")
    help_argv = [str(lims), "--help"] if lims.exists() else [sys.executable, "-c", HELP]
    cases = (("python -c pass", "pass"), ("import flask, sqlalchemy", "import flask, sqlalchemy"),
             ("create_app()", APP))
    rows = [(name, *measure([sys.executable, "-c", code], env, repeat), peak_mb(code, env))
            for name, code in cases]
    rows.append(("lims --help", *measure(help_argv, env, repeat), peak_mb(HELP, env)))
    return rows, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trialbank-bench-startup-") as tmp:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("LIMS_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["LIMS_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        rows, loaded = bench(env, args.repeat)
    _, base_wall, base_cpu, base_mb = rows[1]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; best of {args.repeat} runs each")
    print(f"{'':26} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'wall/flask':>11} {'cpu/flask':>10}")
    for name, wall, cpu, mb in rows:
        print(f"{name:26} {wall:8.3f} {cpu:8.3f} {mb:8.1f} {wall / base_wall:10.2f}x {cpu / base_cpu:9.2f}x")
    _, app_wall, app_cpu, app_mb = rows[2]
    _, help_wall, help_cpu, _ = rows[3]
    print(f"create_app() memory {app_mb:.1f} MB = {app_mb / base_mb:.2f}x the web stack alone")
    print(f"analysis stack and feature libraries imported by create_app(): {loaded or 'none'}")
    print(f"create_app() < {TARGET_SECONDS:.0f} s: wall {verdict(app_wall < TARGET_SECONDS)}, "
          f"cpu {verdict(app_cpu < TARGET_SECONDS)}")
    print(f"create_app() < {TARGET_MB:.0f} MB: {verdict(app_mb < TARGET_MB)}")
    print(f"lims --help < {TARGET_SECONDS:.0f} s: wall {verdict(help_wall < TARGET_SECONDS)}, "
          f"cpu {verdict(help_cpu < TARGET_SECONDS)}")
    print(f"analysis stack and feature libraries left unimported: {verdict(not loaded)}")


if __name__ == "__main__":
    main()
