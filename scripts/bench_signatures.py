"""Benchmark: full nested CV with repeats and permutations on a demo-shaped trial, with shipped defaults.

    .venv/bin/python scripts/bench_signatures.py [--seed 20240601] [--permutations 200]
    .venv/bin/python scripts/bench_signatures.py --from-csv frame.csv --outcome pcr --event 0 [--forced age]

The synthetic trial follows docs section 8 of the domain reference: 120 participants, cCR at CRE1 ~45 %
randomised 1:1 to surgery or watch-and-wait, pCR 65 % in resected cCR and 12 % in resected non-cCR patients;
35 markers (post-nCRT ctDNA VAF, IL-6, NLR, SCC-Ag, PD-L1 CPS/TPS, TMB, sTILs, CD8, Shannon, 20 stool genera,
...). Residual disease depends on ctDNA, IL-6 and NLR; the microbiome is noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import signatures as sg

GENERA = ["Bacteroides", "Prevotella", "Faecalibacterium", "Ruminococcus", "Blautia", "Bifidobacterium",
          "Akkermansia", "Lactobacillus", "Streptococcus", "Escherichia", "Roseburia", "Eubacterium",
          "Clostridium", "Alistipes", "Parabacteroides", "Veillonella", "Fusobacterium", "Dialister",
          "Coprococcus", "Dorea"]


def synthetic_trial(seed: int, n: int = 120) -> pd.DataFrame:
    """One row per participant with outcomes, baseline covariates and post-nCRT markers."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"participant": [f"P{i:03d}" for i in range(1, n + 1)]})
    df["age"] = np.clip(rng.normal(60, 7, n), 40, 75).round()
    df["male"] = (rng.uniform(size=n) < 0.82).astype(int)
    df["ct4a"] = (rng.uniform(size=n) < 0.15).astype(int)
    df["cn_pos"] = (rng.uniform(size=n) < 0.75).astype(int)
    evaluable = rng.uniform(size=n) > 0.09  # 5 % drop out, 4 % distant disease at CRE1
    ccr = evaluable & (rng.uniform(size=n) < 0.45 / 0.91)
    df["ccr"] = ccr.astype(int)
    arm = np.where(ccr, np.where(rng.uniform(size=n) < 0.5, "surgery", "watch_wait"), "surgery")
    df["arm"] = np.where(evaluable, arm, "none")
    # latent residual-disease propensity drives markers and pCR
    base = np.where(ccr, np.log(0.35 / 0.65), np.log(0.88 / 0.12))
    latent = rng.normal(size=n)
    p_res = 1 / (1 + np.exp(-(base + 2.0 * latent)))
    residual = rng.uniform(size=n) < p_res
    ctdna_pos = rng.uniform(size=n) < np.where(residual, 0.45, 0.12)
    df["ctdna_vaf_post"] = np.where(ctdna_pos, rng.lognormal(np.log(0.3) + 0.4 * latent, 1.0), 0.0)
    df["il6"] = rng.lognormal(np.log(4) + 0.7 * latent, 0.6)
    df["nlr_eot"] = rng.lognormal(np.log(2.4 * 2.5) + 0.5 * latent, 0.5)
    df["scc_ag"] = rng.lognormal(np.log(1.2) + 0.2 * latent, 0.6)
    df["pdl1_cps"] = rng.lognormal(np.log(10), 1.2, n)
    df["pdl1_tps"] = rng.lognormal(np.log(1), 1.5, n)
    df["tmb"] = rng.lognormal(np.log(4), 0.6, n)
    df["stils"] = rng.beta(1.5, 8, n) * 100
    df["cd8_density"] = rng.lognormal(np.log(150), 0.7, n)
    df["crp"] = rng.lognormal(np.log(5), 0.9, n)
    df["albumin"] = rng.normal(40, 4, n)
    df["ldh"] = rng.lognormal(np.log(200), 0.3, n)
    df["plr"] = rng.lognormal(np.log(150), 0.4, n)
    rel = rng.dirichlet(np.full(len(GENERA), 0.6), n)
    rel[rng.uniform(size=rel.shape) < 0.2] = 0.0
    rel = rel / rel.sum(axis=1, keepdims=True)
    for j, g in enumerate(GENERA):
        df[g.lower()] = rel[:, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["shannon"] = -np.nansum(np.where(rel > 0, rel * np.log(rel), 0.0), axis=1) + 1.5
    resected = df["arm"] == "surgery"
    df["pcr"] = np.where(resected, (~residual).astype(float), np.nan)
    # event-free survival from enrolment: hazard rises with residual disease and ctDNA
    hazard = 0.35 / 365 * np.exp(0.9 * residual + 0.6 * ctdna_pos + 0.3 * (~evaluable))
    t_event = rng.weibull(0.9, n) / hazard
    censor = rng.uniform(300, 1400, n)
    df["efs_days"] = np.ceil(np.minimum(t_event, censor))
    df["efs_event"] = (t_event <= censor).astype(int)
    # 3-8 % missing per marker
    for c in ["il6", "nlr_eot", "scc_ag", "crp", "ldh"]:
        df.loc[rng.uniform(size=n) < 0.05, c] = np.nan
    return df.set_index("participant")


MARKERS = (["ctdna_vaf_post", "il6", "nlr_eot", "scc_ag", "pdl1_cps", "pdl1_tps", "tmb", "stils",
            "cd8_density",
            "crp", "albumin", "ldh", "plr", "shannon"] + [g.lower() for g in GENERA])
LOG2 = {m: "log2" for m in MARKERS if m not in ("albumin", "shannon", "stils")}


def report(label: str, run: sg.ValidationResult, seconds: float) -> None:
    print(f"\n== {label}: {seconds:.1f} s wall ==")
    if run.kind == "binary":
        print(f"n={run.n} events={run.n_events}  CV AUC {run.auc:.3f} (95% CI {run.auc_ci[0]:.3f}-"
              f"{run.auc_ci[1]:.3f}); by repeat {', '.join(f'{a:.3f}' for a in run.auc_by_repeat)}")
        print(f"calibration slope {run.calibration['slope']:.2f}, intercept "
              f"{run.calibration['intercept']:.2f}")
    else:
        print(f"n={run.n} events={run.n_events}  Harrell C {run.cindex:.3f} (95% CI {run.cindex_ci[0]:.3f}-"
              f"{run.cindex_ci[1]:.3f}); AUC({run.spec.horizon_days:g} d) {run.td_auc:.3f}; "
              f"calibration slope {run.calibration['slope']:.2f}")
    print(f"permutation p = {run.permutation_p:.4f} ({run.spec.permutations} permutations)")
    print("selection frequency (top 8):")
    print(run.selection.head(8).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if run.notes:
        print("notes:", "; ".join(run.notes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--from-csv", type=Path,
                    help="a participant frame (e.g. from lims.demo) instead of synthetic")
    ap.add_argument("--outcome", default="pcr", help="binary outcome column (with --from-csv)")
    ap.add_argument("--event", default="0", help="outcome value to predict; 0 = residual disease for pcr")
    ap.add_argument("--markers", help="comma-separated marker columns (default: all other numeric columns)")
    ap.add_argument("--forced", default="age,ct4a", help="comma-separated forced covariates")
    args = ap.parse_args()
    forced = [c for c in args.forced.split(",") if c]
    total = time.perf_counter()
    if args.from_csv:
        df = pd.read_csv(args.from_csv)
        forced = [c for c in forced if c in df.columns]
        markers = (args.markers.split(",") if args.markers else
                   [c for c in df.select_dtypes("number").columns if c not in [args.outcome, *forced]])
        event = type(df[args.outcome].dropna()
                     .iloc[0])(args.event) if df[args.outcome].notna().any() else args.event
        spec = sg.ModelSpec(outcome=sg.BinaryOutcome(args.outcome, event=event), markers=markers,
                            forced=forced,
                            permutations=args.permutations)
        t = time.perf_counter()
        run = sg.validate(df, spec)
        report(f"{args.outcome} from {args.from_csv}", run, time.perf_counter() - t)
        return
    df = synthetic_trial(args.seed)
    print(f"synthetic trial seed {args.seed}: {len(df)} participants, {int(df['ccr'].sum())} cCR, "
          f"{int(df['pcr'].notna().sum())} resected (pCR {df['pcr'].mean():.0%}; among resected cCR "
          f"{df.loc[df['ccr'] == 1, 'pcr'].mean():.0%}), {len(MARKERS)} markers")

    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr", event=0), markers=MARKERS, forced=forced,
                        transform=LOG2,
                        permutations=args.permutations)
    t = time.perf_counter()
    run = sg.validate(df, spec)
    report("residual disease (non-pCR) among resected patients, L1 logistic, defaults", run,
           time.perf_counter() - t)
    print("watch-and-wait table (per 100 patients, Wilson 95% CI):")
    ww = run.watch_and_wait([0.2, 0.3, 0.4, 0.5])
    print(ww[["threshold", "surgeries_avoided_per", "surgeries_avoided_ci_low", "surgeries_avoided_ci_high",
              "residual_missed_per", "residual_missed_ci_low", "residual_missed_ci_high"]]
          .to_string(index=False, float_format=lambda v: f"{v:.1f}"))

    spec_s = sg.ModelSpec(outcome=sg.SurvivalOutcome("efs_days", "efs_event"), markers=MARKERS, forced=forced,
                          transform=LOG2, permutations=args.permutations, horizon_days=365)
    t = time.perf_counter()
    run_s = sg.validate(df, spec_s)
    report("EFS from enrolment, whole cohort, L1 Cox, defaults", run_s, time.perf_counter() - t)

    t = time.perf_counter()
    model = sg.fit_final(df, spec)
    print(f"\nfit_final (binary): {time.perf_counter() - t:.2f} s, lambda {model.lam:.4f}, "
          f"selected: {', '.join(model.selected_markers()) or 'none'}")
    print(f"\ntotal wall time {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
