"""The migration rewrites stored joblib models (trialbank-signature/1) as JSON signature files."""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sqlalchemy as sa

from analysis import signatures as sg
from lims.core.migrate import upgrade


def _model() -> tuple[sg.FinalModel, pd.DataFrame]:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.lognormal(size=(60, 4)), columns=["m0", "m1", "m2", "m3"])
    df["pcr"] = (rng.uniform(size=60) < 1 / (1 + np.exp(-np.log(df["m0"])))).astype(int)
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m0", "m1", "m2", "m3"], transform="log2",
                        outer_folds=3, inner_folds=3, repeats=1, permutations=0, n_lambda=6)
    return sg.fit_final(df, spec), df[spec.predictors]


def test_upgrade_converts_pickled_models_to_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "a4f2c8e1d937")
    model, X = _model()
    old = io.BytesIO()
    joblib.dump({"format": "trialbank-signature/1", "versions": model.versions, "model": model}, old)
    engine = sa.create_engine(url)  # no foreign-key pragma: the run needs no study for this test
    try:
        with engine.begin() as conn:
            for run_id, blob in ((1, old.getvalue()), (2, b"not a model")):
                conn.execute(sa.text("INSERT INTO signature_run (id, study_id, by_username, created_at, "
                                     "status, parameters, model) VALUES (:id, 1, 'x', '2026-01-01 00:00:00', "
                                     "'queued', '{}', :model)"), {"id": run_id, "model": blob})
        upgrade(url)
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT id, model FROM signature_run")).all())
    finally:
        engine.dispose()
    loaded = sg.loads(stored[1])
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=0, atol=1e-12)
    assert stored[2] == b"not a model"  # left as it was; loading it is refused
