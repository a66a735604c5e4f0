"""Benchmark the marker screen at omics scale: markers processed in blocks, memory bounded (not a timed test).

Usage: .venv/bin/python scripts/bench_screen_omics.py [--markers 20000] [--patients 1000] [--block 1000]
                                                      [--compare-markers 4000] [--seed 1]

Each measurement runs in its own process, so its peak RSS (``ru_maxrss``) is its own. Per run: a continuous
Efron Cox screen (log2 markers) and a median-split screen (log-rank p and Cox HR), with BH q-values over the
whole family. Prints time and peak RSS of the blocked screen at full size, then, on a size the whole-matrix
path can also hold, both paths side by side with the ratios and the largest difference between their numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import screen

LIMIT_GB = 2.0


def simulate(markers: int, patients: int, seed: int) -> pd.DataFrame:
    """Lognormal markers, the first ten prognostic, exponential times in whole days (ties), censoring."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(size=(patients, markers))
    k = min(10, markers)
    risk = 0.6 * np.log(x[:, :k]).sum(1) / np.sqrt(k)
    t = rng.exponential(365 * np.exp(-risk))
    c = rng.uniform(100, 1500, patients)
    df = pd.DataFrame(x, columns=[f"m{i:05d}" for i in range(markers)])
    df["time"] = np.ceil(np.minimum(t, c))
    df["event"] = (t <= c).astype(float)
    return df


def measure(markers: int, patients: int, block: int | None, seed: int) -> dict[str, float]:
    """Run both screens once in this process; return seconds, peak RSS and a digest of the numbers."""
    df = simulate(markers, patients, seed)
    names = [c for c in df.columns if c.startswith("m")]
    outcome = screen.Survival("time", "event")
    t0 = time.perf_counter()
    cox = screen.run(df, names, outcome, transform="log2", cut="none", block_size=block)
    t1 = time.perf_counter()
    split = screen.run(df, names, outcome, transform="log2", cut="median", block_size=block)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB -> GB
    out = Path(f"/tmp/bench-screen-{markers}-{block}.parquet")
    pd.concat({"cox": cox[["coef", "se", "p", "q"]], "split": split[["coef", "statistic", "p", "q"]]},
              axis=1).to_parquet(out)
    return {"cox_s": t1 - t0, "split_s": t2 - t1, "peak_gb": peak,
            "converged": float(cox["converged"].mean()),
            "hits": int((cox["q"] < 0.05).sum()), "file": str(out)}


def child(markers: int, patients: int, block: int | None, seed: int) -> dict[str, float]:
    """Measure in a fresh process (its peak RSS is its own)."""
    args = [sys.executable, __file__, "--child", str(markers), str(patients), str(block or 0), str(seed)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the measurements and print the figures."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        markers, patients, block, seed = (int(a) for a in sys.argv[2:6])
        print(json.dumps(measure(markers, patients, block or None, seed)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markers", type=int, default=20000)
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--block", type=int, default=screen.DEFAULT_BLOCK)
    ap.add_argument("--compare-markers", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    full = child(args.markers, args.patients, args.block, args.seed)
    print(f"omics screen, {args.markers} markers x {args.patients} patients, blocks of {args.block}")
    print(f"  continuous Cox    : {full['cox_s']:.1f} s")
    print(f"  median split      : {full['split_s']:.1f} s  (log-rank p, Cox HR)")
    print(f"  peak RSS          : {full['peak_gb']:.2f} GB  (limit {LIMIT_GB:.1f} GB: "
          f"{'ok' if full['peak_gb'] < LIMIT_GB else 'OVER'})")
    print(f"  converged         : {100 * full['converged']:.1f}% of markers; {full['hits']} with q < 0.05")

    m = args.compare_markers
    blocked = child(m, args.patients, args.block, args.seed)
    whole = child(m, args.patients, None, args.seed)
    a, b = pd.read_parquet(blocked["file"]), pd.read_parquet(whole["file"])
    diff = float(np.nanmax(np.abs(a.to_numpy() - b.to_numpy())))
    print(f"same size, {m} markers x {args.patients} patients: blocked vs whole-matrix path")
    for key, label in (("cox_s", "continuous Cox"), ("split_s", "median split")):
        print(f"  {label:<17} : {blocked[key]:.1f} s vs {whole[key]:.1f} s  (ratio "
              f"{blocked[key] / whole[key]:.2f}x)")
    print(f"  peak RSS          : {blocked['peak_gb']:.2f} GB vs {whole['peak_gb']:.2f} GB  "
          f"(ratio {blocked['peak_gb'] / whole['peak_gb']:.2f}x)")
    print(f"  max |difference|  : {diff:.1e}  (coef, se, statistic, p, q)")


if __name__ == "__main__":
    main()
