"""HTTP tests of the trial endpoints page, the associations screen, saved runs and marker reports."""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd
import pytest

from analysis.clinical_tables import RANDOMISED_STRATA
from lims.clinical.service import clinical_tables
from lims.extensions import db
from lims.results import data, parameters, service
from lims.studies.service import get_study
from tests.results.factories import SIGNAL

PNG = b"\x89PNG\r\n\x1a\n"


def _run(client: Any, **form: Any) -> str:
    data = {"outcome": "dfs_a", "timepoint": "BASELINE", "sample_type": "SERUM", "transform": "log2",
            "cut": "none", **form}
    response = client.post("/results/associations", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def test_endpoints_page_states_denominators_and_has_no_dates(demo_client: Any) -> None:
    client = demo_client("pi")
    response = client.get("/results/endpoints")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for heading in ("Primary endpoint: 365-day DFS in the CCR_WW arm", "cCR rate at CRE1",
                    "pCR and MPR among resected participants, by stratum", "Overall survival by stratum",
                    "Event-free survival by stratum", "First-failure patterns", "Treatment after failure",
                    "Quality of life over time by arm", "Toxicity: worst CTCAE grade per term"):
        assert heading in html
    # every rate reads events/denominator = x% (95% CI a–b)
    assert re.search(r"\d+/40 = \d+\.\d% \(95% CI \d+\.\d%–\d+\.\d%\)", html), "ITT cCR rate with denominator"
    assert re.search(r"<td>PCR</td><td>All resected</td><td>\d+/\d+ = ", html)
    assert "Global health status (QLQ-C30 QL2)" in html
    # pseudonymised: no calendar date anywhere in the tables
    body = html.split("<main>", 1)[1].split("</main>", 1)[0]
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", body)


@pytest.mark.parametrize("name", ["os", "efs", "dfs_a", "dfs_b", "qol"])
def test_endpoint_figures_are_real_images(demo_client: Any, name: str) -> None:
    client = demo_client("researcher")
    png = client.get(f"/results/endpoints/{name}.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(PNG)
    svg = client.get(f"/results/endpoints/{name}.svg?download=1")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data[:500]
    assert "attachment" in svg.headers["Content-Disposition"]


def test_associations_dfs_run_volcano_table_and_csv(demo_client: Any) -> None:
    client = demo_client("researcher")
    form = client.get("/results/associations")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    for label in ("Outcome", "Time point", "Sample type", "Marker set", "Transform", "Marker coding",
                  "Landmark"):
        assert f">{label}" in html
    location = _run(client)
    page = client.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "DFS only among randomised cCR participants" in html
    assert "What these results are conditioned on" in html
    for marker in ("RX_IL6", "RX_IL8", "RX_TNF"):
        assert f">{marker}</a>" in html
    volcano = client.get(f"{location}/volcano.png")
    assert volcano.status_code == 200 and volcano.data.startswith(PNG)
    pdf = client.get(f"{location}/forest.pdf?download=1")
    assert pdf.data.startswith(b"%PDF")
    csv = client.get(f"{location}/results.csv")
    assert csv.mimetype == "text/csv"
    table = pd.read_csv(io.BytesIO(csv.data), index_col="marker")
    assert {"RX_IL6", "RX_IL8", "RX_TNF", "RX_IFNG", "RX_IL10", "RX_CXCL10"} <= set(table.index)
    assert not set(table.index) & {"RX_CTDNA_VAF", "RX_CTDNA_MTM"}  # plasma markers are not serum markers
    assert {"n", "events", "effect", "lower", "upper", "p", "q"} <= set(table.columns)
    assert (table["lower"] <= table["effect"]).all() and (table["effect"] <= table["upper"]).all()
    assert (table["q"] >= table["p"] - 1e-12).all()


def test_run_table_sorts_by_a_column(demo_client: Any) -> None:
    client = demo_client("pi")
    location = _run(client, outcome="ccr", markers="RX_IL6 RX_IL8 RX_TNF RX_IFNG RX_IL10 RX_CXCL10")
    up = client.get(f"{location}?sort=marker&dir=asc").get_data(as_text=True)
    down = client.get(f"{location}?sort=marker&dir=desc").get_data(as_text=True)
    order_up = re.findall(r">(\w+)</a></td>", up)
    order_down = re.findall(r">(\w+)</a></td>", down)
    assert order_up == sorted(order_up) and order_down == sorted(order_up, reverse=True)
    by_p = client.get(location).get_data(as_text=True)
    assert re.findall(r">(RX_\w+)</a></td>", by_p)[0] == SIGNAL  # the planted cCR marker comes first


def test_pcr_is_conditioned_on_resection(demo_client: Any, demo_trial: Any) -> None:
    client = demo_client("pi")
    html = client.get(_run(client, outcome="pcr")).get_data(as_text=True)
    assert "pCR only among resected participants" in html
    with demo_trial.app.app_context():
        study = get_study(db.session)
        params = parameters.check_parameters(db.session, study, {"outcome": "pcr", "sample_type": "SERUM"})
        frame = service.frame_for(db.session, study, params)
        derived = data.endpoints(clinical_tables(db.session, study), study, "A").set_index("participant_id")
        assert derived.loc[frame["participant_id"], "resected"].all()
        params = parameters.check_parameters(db.session, study, {"outcome": "dfs_b", "sample_type": "SERUM"})
        frame = service.frame_for(db.session, study, params)
        assert derived.loc[frame["participant_id"], "stratum"].isin(RANDOMISED_STRATA).all()
        assert not any(str(t).startswith("datetime") for t in frame.dtypes)


def test_marker_report_survival_and_binary(demo_client: Any) -> None:
    client = demo_client("pi")
    location = _run(client, outcome="efs", cut="median")
    report = client.get(f"{location}/markers/{SIGNAL}")
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    assert "Cox model" in html and "Log-rank test, median split" in html
    for kind in ("km", "response", "trajectory"):
        image = client.get(f"{location}/markers/{SIGNAL}/{kind}.png")
        assert image.status_code == 200 and image.data.startswith(PNG), kind
    assert client.get(f"{location}/markers/{SIGNAL}/roc.png").status_code == 404
    svg = client.get(f"{location}/markers/{SIGNAL}/km.svg")
    assert b"<svg" in svg.data[:500]

    binary = _run(client, outcome="ccr")
    html = client.get(f"{binary}/markers/{SIGNAL}").get_data(as_text=True)
    assert "AUC (DeLong 95% CI)" in html and "Youden cut" in html
    roc = client.get(f"{binary}/markers/{SIGNAL}/roc.png")
    assert roc.status_code == 200 and roc.data.startswith(PNG)
    assert client.get(f"{binary}/markers/NOPE").status_code == 404


def test_marker_report_of_an_adjusted_optimal_cut_run(demo_client: Any) -> None:
    """The KM shows the run's own cut and p; an adjusted run has its forest plot; Cox tables carry the PH
    test."""
    client = demo_client("pi")
    optimal = _run(client, outcome="efs", cut="optimal")
    row = pd.read_csv(io.BytesIO(client.get(f"{optimal}/results.csv").data), index_col="marker").loc[SIGNAL]
    html = client.get(f"{optimal}/markers/{SIGNAL}").get_data(as_text=True)
    assert f"the run's maximally selected cut {row['cutpoint']:.3g}" in html
    assert "Proportional-hazards check" in html
    svg = client.get(f"{optimal}/markers/{SIGNAL}/km.svg").get_data(as_text=True)
    assert f"Lausen-Schumacher adjusted p = {row['p']:.3f}" in svg or "p &lt; 0.001" in svg
    adjusted = _run(client, outcome="efs", covariates=["age", "ecog"])
    html = client.get(f"{adjusted}/markers/{SIGNAL}").get_data(as_text=True)
    assert "Multivariable Cox model" in html
    forest = client.get(f"{adjusted}/markers/{SIGNAL}/forest.svg").get_data(as_text=True)
    assert SIGNAL in forest and "age" in forest and "HR (95% CI, log scale)" in forest


def test_landmark_and_adjustment_are_stated(demo_client: Any) -> None:
    client = demo_client("pi")
    location = _run(client, outcome="os", timepoint="CRE1", landmark="120", covariates=["age", "male"])
    html = client.get(location).get_data(as_text=True)
    assert "Landmark at day 120" in html and "Adjusted for Age (per year), Male sex" in html
    # CRE1 samples come after enrolment: OS from enrolment without a landmark is refused ...
    refused = client.post("/results/associations",
                          data={"outcome": "os", "timepoint": "CRE1", "sample_type": "SERUM",
                                                         "transform": "log2", "cut": "none"})
    assert refused.status_code == 400 and "guarantee-time bias" in refused.get_data(as_text=True)
    # ... unless the PI overrides it, and then every output says so
    override = _run(client, outcome="os", timepoint="CRE1", allow_post_baseline="on")
    caveat = "Guarantee-time bias"
    assert caveat in client.get(override).get_data(as_text=True)
    assert caveat in client.get(f"{override}/markers/{SIGNAL}").get_data(as_text=True)
    table = pd.read_csv(io.BytesIO(client.get(f"{override}/results.csv").data), index_col="marker")
    assert table["caveat"].str.startswith(caveat).all()
    assert caveat in client.get(f"/api/v1/results/runs/{override.rsplit('/', 1)[1]}").get_json()[
        "conditions"][2]
    # CRE1 samples: a few come days after randomisation; a landmark leaves out those collected after it
    late = client.get(_run(client, outcome="dfs_a", timepoint="CRE1", landmark="1")).get_data(as_text=True)
    assert re.search(r"Landmark at day 1: .*; \d+ participant\(s\) left out because their sample was "
                     r"collected after the landmark", late)
    # EOT samples come before randomisation: DFS from randomisation needs no landmark and raises no alarm
    dfs = client.get(_run(client, outcome="dfs_a", timepoint="EOT")).get_data(as_text=True)
    assert "Every sample at EOT was collected on or before the time origin" in dfs and caveat not in dfs


@pytest.mark.parametrize(("form", "message"), [
    ({"outcome": "ccr", "landmark": "90"}, "a landmark applies to survival outcomes only"),
    ({"outcome": "nonsense"}, "outcome must be one of"),
    ({"landmark": "soon"}, "landmark must be a number of days"),
    ({"cut": "optimal", "covariates": ["age"]}, "optimal cut has no adjusted p-value with covariates"),
    ({"sample_type": "BUFFY_COAT"}, "no marker values at BASELINE on BUFFY_COAT"),
    ({"markers": "rx_il6 NOT_A_MARKER"}, "unknown marker(s) NOT_A_MARKER"),
    ({"pseudocount": "lots"}, "pseudocount must be a number, got"),
    ({"covariates": ["height"]}, "unknown adjustment covariate"),
    ({"timepoint": "FU99"}, "timepoint must be one of"),
])
def test_bad_parameters_say_why_and_save_nothing(demo_client: Any, form: dict[str, Any],
                                                 message: str) -> None:
    client = demo_client("pi")
    before = client.get("/results/associations").get_data(as_text=True).count("Run ")
    data = {"outcome": "dfs_a", "timepoint": "BASELINE", "sample_type": "SERUM", "transform": "log2",
            "cut": "none", **form}
    response = client.post("/results/associations", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert client.get("/results/associations").get_data(as_text=True).count("Run ") == before


def test_access_by_role(demo_client: Any) -> None:
    monitor = demo_client("monitor")
    assert monitor.get("/results/endpoints").status_code == 200
    page = monitor.get("/results/associations")
    assert page.status_code == 200 and "Run analysis" not in page.get_data(as_text=True)
    assert monitor.post("/results/associations", data={"outcome": "os"}).status_code == 403
    location = _run(demo_client("pi"))
    assert monitor.get(location).status_code == 200
    tech = demo_client("tech.zj")
    assert tech.get("/results/endpoints").status_code == 403
    assert tech.get(location).status_code == 403
    assert tech.get(f"{location}/results.csv").status_code == 403


def test_rerun_page_reports_identical_numbers(demo_client: Any) -> None:
    client = demo_client("researcher")
    location = _run(client, outcome="dfs_b", cut="median")
    html = client.get(f"{location}/rerun").get_data(as_text=True)
    assert "Identical numbers" in html and "unchanged (SHA-256" in html


def test_readout_publication_parts(demo_client: Any, demo_trial: Any) -> None:
    """Table 1 (page, CSV, Excel, Word), the flow diagram, competing risks, the adjusted Cox model with its PH
    test and the follow-up are on the readout; downloads are publication files (PNG at 300 dpi)."""
    import docx
    from openpyxl import load_workbook
    from PIL import Image

    client = demo_client("pi")
    html = client.get("/results/endpoints").get_data(as_text=True)
    for heading in ("Participant flow (CONSORT) and samples available (REMARK)",
                    "Table 1: baseline characteristics",
                    "Median follow-up", "Competing risks: first failure by cause and arm",
                    "DFS by arm, adjusted (multivariable Cox)", "Proportional-hazards check"):
        assert heading in html, heading
    assert "cCR, randomised to watch and wait (n=" in html  # arm names, not codes, head Table 1
    csv = client.get("/results/endpoints/table1.csv")
    table = pd.read_csv(io.BytesIO(csv.data))
    assert csv.mimetype == "text/csv" and table.columns[0] == "variable" and "Overall (n=40)" in table.columns
    book = load_workbook(io.BytesIO(client.get("/results/endpoints/table1.xlsx").data))
    assert book.active.max_row == len(table) + 1
    word = docx.Document(io.BytesIO(client.get("/results/endpoints/table1.docx").data))
    assert len(word.tables[0].rows) == len(table) + 1
    for name in ("flow", "cif", "forest"):
        png = client.get(f"/results/endpoints/{name}.png?download=1")
        assert png.status_code == 200, name
        assert Image.open(io.BytesIO(png.data)).info["dpi"] == pytest.approx((300, 300), abs=0.5)
        assert client.get(f"/results/endpoints/{name}.pdf").data[:4] == b"%PDF"
    svg = client.get("/results/endpoints/flow.svg").get_data(as_text=True)
    with demo_trial.app.app_context():
        derived = data.endpoints(clinical_tables(db.session, get_study(db.session)), get_study(db.session),
                                 "A")
    assert f"n = {len(derived)}" in svg and f"n = {int(derived['ccr_cre1'].astype('boolean').sum())}" in svg
    assert client.get("/results/endpoints/nonsense.png").status_code == 404
