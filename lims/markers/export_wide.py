"""The wide form of a marker export (one row per participant x time point, markers as columns), pivoted block
by block as the results are read: memory holds the wide cells, never all the results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lims.markers.export_shapes import ord_date

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lims.markers.export import ExportQuery
    from lims.markers.export_samples import SampleFacts

_NEVER = 10**9  # an ordinal later than any date
_REPLICATES = 2**20  # cell keys: sample id * _REPLICATES + replicate


class WidePivot:
    """The wide cells, filled block by block. A cell holds the latest replicate of its marker on the row's
    highest-id sample carrying it (when two samples of a time point carry the same marker, the one registered
    last wins): the result with the greatest (sample id, replicate), whatever block it comes in."""

    def __init__(self, facts: SampleFacts, n_markers: int) -> None:
        import numpy as np

        self.facts, self.n_markers = facts, n_markers
        self.used = np.flatnonzero(facts.keep)  # every listed sample has results: the kept ones are used
        ranks, rank_code = np.unique(facts.tp_rank, return_inverse=True)
        row_key = facts.person * (len(ranks) + 1) + rank_code.reshape(-1)
        keys, rows = np.unique(row_key[self.used], return_inverse=True)  # by participant, then schedule order
        self.s_row = np.full(len(facts.ids), -1, dtype=np.int64)
        self.s_row[self.used] = rows.reshape(-1)
        self.n_rows = len(keys)
        shape = (self.n_rows, n_markers)
        self.best = np.full(shape, -1, dtype=np.int64)
        self.values = np.full(shape, np.nan)
        self.qualifier = np.zeros(shape, dtype=np.int32)  # 0: none, else 1 + position in self.words
        self.words: dict[str, int] = {}
        self.first_assay = np.full(self.n_rows, _NEVER, dtype=np.int64)

    def add(self, r: dict[str, np.ndarray]) -> None:
        """Fold a block of kept results (with ``sp`` and ``mi``, see ResultTally.take) into the cells."""
        import numpy as np

        if not len(r["sp"]):
            return
        rows = self.s_row[r["sp"]]
        cell = rows * self.n_markers + r["mi"]
        key = r["sample_id"] * _REPLICATES + r["replicate"]
        order = np.lexsort((key, cell))
        last = np.ones(len(order), dtype=bool)
        last[:-1] = cell[order][:-1] != cell[order][1:]
        pick = order[last]
        cells = cell[pick]
        wins = key[pick] > self.best.reshape(-1)[cells]
        pick, cells = pick[wins], cells[wins]
        self.best.reshape(-1)[cells] = key[pick]
        self.values.reshape(-1)[cells] = r["value"][pick]
        self.qualifier.reshape(-1)[cells] = self._codes(r["qualifier"][pick])
        np.minimum.at(self.first_assay, rows, np.where(r["assay_ord"] < 0, _NEVER, r["assay_ord"]))

    def _codes(self, words: np.ndarray) -> np.ndarray:
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(words)  # None -> -1
        known = np.array([self.words.setdefault(w, len(self.words) + 1) for w in uniques], dtype=np.int32)
        return np.where(codes < 0, 0, known[np.maximum(codes, 0)] if len(known) else 0)

    def frame(self, query: ExportQuery, pre: dict[str, Any], person_cols: dict[str, np.ndarray],
              codes: np.ndarray) -> pd.DataFrame:
        """The wide frame: row facts, then a column per marker that has a value (and its qualifier where any
        has one), then the pre-analytics of the first sample of each type in the row."""
        import pandas as pd

        data = self._row_columns(query, person_cols)
        data.update(self._marker_columns(codes))
        data.update(self._preanalytic_columns(pre))
        return pd.DataFrame(data)

    def _row_columns(self, query: ExportQuery, person_cols: dict[str, np.ndarray]) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        facts, used, s_row, n_rows = self.facts, self.used, self.s_row, self.n_rows
        first_sample = pd.Series(used).groupby(s_row[used]).min()  # any sample of the row, for its facts
        s_first = first_sample.reindex(range(n_rows)).to_numpy(dtype=np.int64)
        person_of_row = facts.person[s_first]
        data: dict[str, Any] = {"participant_id": person_cols["participant_id"][person_of_row],
                                "timepoint": facts.frame["timepoint"].to_numpy(dtype=object)[s_first]}
        for c in ("site", "stratum", "stage"):
            data[c] = person_cols[c][person_of_row]
        day = pd.Series(facts.collection_day[used]).groupby(s_row[used]).min()
        data["collection_day"] = pd.array(day.reindex(range(n_rows)).to_numpy(), dtype="Int64")
        if query.dates:
            data["enrol_date"] = ord_date(facts.enrol_ord[s_first])
            collection = facts.collection_ord[used]
            coll = pd.Series(np.where(collection < 0, _NEVER, collection)).groupby(s_row[used]).min()
            data["collection_date"] = ord_date(np.where(coll.to_numpy() >= _NEVER, -1, coll.to_numpy()))
            data["assay_date"] = ord_date(np.where(self.first_assay >= _NEVER, -1, self.first_assay))
        return data

    def _marker_columns(self, codes: np.ndarray) -> dict[str, Any]:
        import numpy as np

        words = np.array([None, *self.words], dtype=object)
        present = np.flatnonzero((self.best >= 0).any(axis=0))
        data: dict[str, Any] = {str(codes[j]): self.values[:, j] for j in present}
        for j in present:
            if self.qualifier[:, j].any():
                data[f"{codes[j]}__qualifier"] = words[self.qualifier[:, j]]
        return data

    def _preanalytic_columns(self, pre: dict[str, Any]) -> dict[str, Any]:
        """Per sample type in the export: the pre-analytics of the row's first sample of that type."""
        import pandas as pd

        used, s_row = self.used, self.s_row
        s_type = self.facts.frame["sample_type"].to_numpy(dtype=object)
        data: dict[str, Any] = {}
        for stype in sorted(set(s_type[used].tolist())):
            of_type = used[s_type[used] == stype]
            chosen = pd.Series(of_type).groupby(s_row[of_type]).min()
            rows_with = chosen.index.to_numpy()
            for name, values in pre.items():
                column = pd.Series(pd.array(values)[chosen.to_numpy()],
                                   index=rows_with).reindex(range(self.n_rows))
                data[f"{stype}__{name}"] = (pd.array(column, dtype="Int64")
                                            if name in ("storage_days", "freeze_thaw_count")
                                            else column.to_numpy())
        return data
