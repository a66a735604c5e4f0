"""The PDF report of a finished signature run: text pages (performance, tables, methods) and the figures.

Drawn with matplotlib's PDF backend from the stored result, so a reopened run prints the same report.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING, Any

from lims.signatures import figures
from lims.signatures.models import SignatureRun

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

A4 = (8.27, 11.69)
MARGIN = 0.07
LINE = 0.0155  # page fraction per 9-point line
WIDTH = 100  # characters per wrapped line at 9 points


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


class _Writer:
    """Lays out lines of text top to bottom, starting a new page when one is full."""

    def __init__(self, pdf: PdfPages) -> None:
        self.pdf = pdf
        self.fig: plt.Figure | None = None
        self.y = 0.0

    def _page(self) -> None:
        import matplotlib.pyplot as plt

        self.close()
        self.fig = plt.figure(figsize=A4)
        self.y = 1 - MARGIN

    def close(self) -> None:
        import matplotlib.pyplot as plt

        if self.fig is not None:
            self.pdf.savefig(self.fig)
            plt.close(self.fig)
            self.fig = None

    def line(self, text: str, *, size: float = 9, weight: str = "normal", mono: bool = False,
             gap: float = 0.0) -> None:
        height = LINE * size / 9 + gap
        if self.fig is None or self.y - height < MARGIN:
            self._page()
        assert self.fig is not None
        self.y -= height
        self.fig.text(MARGIN, self.y, text, fontsize=size, fontweight=weight,
                      family="monospace" if mono else "sans-serif", va="baseline")

    def heading(self, text: str) -> None:
        self.line(text, size=12, weight="bold", gap=0.012)

    def paragraph(self, text: str, width: int = WIDTH) -> None:
        for part in textwrap.wrap(text, width) or [""]:
            self.line(part)


def _performance(res: dict[str, Any], event_label: str) -> list[str]:
    out = [(f"Patients: {res['n']} ({res['n_events']} with {event_label}); {res['n_dropped']} left out for "
            "a missing outcome")]
    if res.get("auc") is not None:
        out.append(f"Cross-validated AUC {_fmt(res['auc'])} (95% CI {_fmt(res['auc_ci'][0])}–"
                   f"{_fmt(res['auc_ci'][1])}); per repeat "
                   f"{', '.join(_fmt(a) for a in res['auc_by_repeat'])}")
        cal = res["calibration"]
        out.append(f"Calibration slope {_fmt(cal.get('slope'), '.2f')}, intercept "
                   f"{_fmt(cal.get('intercept'), '.2f')}")
    if res.get("cindex") is not None:
        out.append(f"Cross-validated C-index {_fmt(res['cindex'])} (95% CI {_fmt(res['cindex_ci'][0])}–"
                   f"{_fmt(res['cindex_ci'][1])}); time-dependent AUC at 365 days {_fmt(res.get('td_auc'))}")
        out.append(f"Calibration slope {_fmt(res['calibration'].get('slope'), '.2f')}")
    perms = res["provenance"]["permutations"]
    out.append("Permutation p (whole nested procedure): "
               + (f"{res['permutation_p']:.3g} over {perms} permutations"
                  if res.get("permutation_p") is not None
                  else "not run"))
    final = res["final_model"]
    out.append(f"Final model: penalty lambda {final['lambda']:.4g}; selected: "
               f"{', '.join(final['selected']) or 'none'}")
    return out


def report_pdf(run: SignatureRun, *, title: str, study: str, conditions: list[str],
               event_label: str) -> bytes:
    """Return the PDF report of a finished run (A4 pages of text and tables, then one page of figures)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages

    res = run.result or {}
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": title, "Creator": "Trialbank", "CreationDate": None}) as pdf:
        w = _Writer(pdf)
        w.line(title, size=15, weight="bold")
        w.line(f"{study}. Run #{run.id} by {run.by_username}, {run.created_at:%Y-%m-%d %H:%M} UTC.",
               gap=0.006)
        for sentence in conditions:
            w.paragraph(f"- {sentence}")
        w.heading("Validated performance")
        for text in _performance(res, event_label):
            w.paragraph(text)
        for note in res.get("notes", []):
            w.paragraph(f"Note: {note}")
        _tables(w, res, event_label)
        w.heading("Methods")
        w.paragraph(res.get("methods", ""))
        w.heading("Provenance")
        w.paragraph(f"Seeds {', '.join(map(str, run.seeds or []))} (permutation seed "
                    f"{res['provenance']['permutation_seed']}); dataset SHA-256 {run.dataset_sha256} "
                    f"({run.dataset_rows} rows)")
        w.paragraph("Packages: " + "; ".join(f"{k} {v}" for k, v in (run.versions or {}).items()))
        w.close()
        _figures_page(pdf, res)
    return buffer.getvalue()


def _tables(w: _Writer, res: dict[str, Any], event_label: str) -> None:
    """Write the selection frequencies, the watch-and-wait table (binary outcomes) and the final model."""
    w.heading("Marker selection frequency")
    w.line(f"{'Marker':<24}{'Selected':>10}{'Mean coef (per SD)':>22}{'Share positive':>17}", mono=True,
           size=8)
    for row in res.get("selection", []):
        share = "—" if row["share_positive"] is None else f"{row['share_positive'] * 100:.0f}%"
        w.line(f"{row['marker'][:23]:<24}{row['frequency'] * 100:>9.0f}%"
               f"{_fmt(row['mean_coef_when_selected']):>22}{share:>17}", mono=True, size=8)
    if res.get("watch_and_wait"):
        w.heading("Watch and wait per 100 patients")
        w.paragraph(f"Missed: patients with {event_label} who would be spared surgery.")
        w.line(f"{'Threshold':>9}{'Surgeries avoided (95% CI)':>30}{'Missed (95% CI)':>30}", mono=True,
               size=8)
        for row in res["watch_and_wait"]:
            avoided = (f"{row['surgeries_avoided_per']:.1f} ({row['surgeries_avoided_ci_low']:.1f}–"
                       f"{row['surgeries_avoided_ci_high']:.1f})")
            missed = (f"{row['residual_missed_per']:.1f} ({row['residual_missed_ci_low']:.1f}–"
                      f"{row['residual_missed_ci_high']:.1f})")
            w.line(f"{row['threshold']:>9.2f}{avoided:>30}{missed:>30}", mono=True, size=8)
    w.heading("Final model coefficients (per SD)")
    for row in res.get("final_model", {}).get("coefficients", []):
        w.line(f"{row['predictor'][:30]:<32}{row['coef'] + 0.0:>12.4f}{'  forced' if row['forced'] else ''}",
               mono=True, size=8)


def _figures_page(pdf: PdfPages, res: dict[str, Any]) -> None:
    """Add one page holding the run's figures (calibration, decision curve), if it has any."""
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    names = figures.available(res)
    if not names:
        return
    fig, axes = plt.subplots(len(names), 1, figsize=A4)
    for ax, name in zip([axes] if len(names) == 1 else list(axes), names, strict=True):
        ax.imshow(mpimg.imread(io.BytesIO(figures.render(res, name, "png")), format="png"))
        ax.set_axis_off()
    fig.tight_layout()
    pdf.savefig(fig)
    plt.close(fig)
