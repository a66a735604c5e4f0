"""Signature run models from joblib pickles to the plain JSON signature file (trialbank-signature/2)

Stored models were pickles this installation wrote itself, so they are unpickled once here, by the operator
running the migration, and rewritten as JSON; the application never unpickles anything afterwards. A model that
cannot be converted is left as it is: its run page then says to re-run it.

Revision ID: 5e0b7c3a9f14
Revises: a4f2c8e1d937
Create Date: 2026-12-02 11:40:00
"""

from __future__ import annotations

import io

import sqlalchemy as sa
from alembic import op

revision = "5e0b7c3a9f14"
down_revision = "a4f2c8e1d937"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from analysis.signatures import FinalModel, dumps

    bind = op.get_bind()
    runs = sa.table("signature_run", sa.column("id", sa.Integer), sa.column("model", sa.LargeBinary))
    rows = bind.execute(sa.select(runs.c.id, runs.c.model).where(runs.c.model.is_not(None))).all()
    for run_id, blob in rows:
        if bytes(blob[:1]) == b"{":
            continue
        try:
            import joblib

            old = joblib.load(io.BytesIO(bytes(blob)))  # written by this installation (trialbank-signature/1)
            model = old.get("model") if isinstance(old, dict) else None
            if not isinstance(model, FinalModel):
                continue
            bind.execute(runs.update().where(runs.c.id == run_id).values(model=dumps(model)))
        except Exception:  # noqa: BLE001, S112 - unpickling fails in many ways; such a run keeps its bytes
            continue


def downgrade() -> None:
    # JSON models stay JSON: the older code cannot read them, re-run those runs after a downgrade.
    pass
