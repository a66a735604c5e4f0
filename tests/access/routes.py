"""What every route of the app needs: the permission and the kind of object the request names.

Keyed by ``"METHOD /rule"`` exactly as ``app.url_map`` spells it; ``tests/access/test_routes.py`` fails for a
route that has no entry here (and for an entry whose route is gone). Each entry builds its request from one
site's objects (:class:`tests.access.conftest.SiteObjects`): the test sends it with the user's own site's
objects and with another site's, and compares the answers with the rules of :mod:`lims.access`.

Kinds: ``sample``, ``participant``, ``unit``, ``shipment``, ``disposal``, ``printer``, ``print_job`` (objects
held by a site: another site's is hidden, answered like one that does not exist, with 404 when it is named in
the URL), ``site`` (a site's code: sites are not secret, acting for another one is 403), ``token``, ``job``,
``session`` (one's own API token, background job, browser session: somebody else's is hidden; an admin
reaches everyone's tokens and jobs, but not their sessions), ``None`` (nothing of a site is named; lists are
checked for leaks).

The declarations are split by area: this module (samples, storage, shipments, markers, clinical, results),
:mod:`tests.access.routes_admin` (logging in, accounts, users, jobs, manifest keys) and
:mod:`tests.access.routes_lab` (printing, bulk storage, processing, worklists, scanner set-up).
"""

from __future__ import annotations

from tests.access.expect import FAR_FUTURE, LOGIN, PUBLIC, SCAN, SIGNED, E, Expect, fixed, req
from tests.access.routes_admin import ADMIN_ROUTES
from tests.access.routes_lab import LAB_ROUTES

__all__ = ["LOGIN", "PUBLIC", "ROUTES", "Expect"]

ROUTES: dict[str, Expect] = {
    # ----- front door, accounts, documentation ------------------------------------------------------
    "GET /": E(PUBLIC, fixed("/")),
    "GET /login": E(PUBLIC, fixed("/login")),
    "POST /login": E(PUBLIC, fixed("/login", data={})),
    "POST /logout": E(PUBLIC, fixed("/logout")),
    "GET /health": E(PUBLIC, fixed("/health")),
    "GET /static/<path:filename>": E(PUBLIC, fixed("/static/style.css")),
    "GET /api/v1/docs": E(PUBLIC, fixed("/api/v1/docs")),
    "GET /api/v1/openapi.json": E(PUBLIC, fixed("/api/v1/openapi.json")),
    "GET /api/v1/docs-assets/<path:filename>": E(PUBLIC, fixed("/api/v1/docs-assets/index.css")),
    "GET /account/tokens": E(LOGIN, fixed("/account/tokens")),
    "POST /account/tokens": E(LOGIN, fixed("/account/tokens", data={"name": "", "days": "90"})),
    "POST /account/tokens/<int:token_id>/revoke": E(
        LOGIN, req(lambda w, o: f"/account/tokens/{o.token}/revoke"), "token"
    ),
    # ----- participants and samples -----------------------------------------------------------------
    "GET /participants/": E(
        LOGIN, fixed("/participants/", query_string={"q": "RT"}), shows=lambda w, o: [o.participant]
    ),
    "GET /participants/<code>": E(LOGIN, req(lambda w, o: f"/participants/{o.participant}"), "participant"),
    "GET /api/v1/participants/": E(LOGIN, fixed("/api/v1/participants/", query_string={"q": "RT"})),
    "GET /api/v1/participants/<string:code>": E(
        LOGIN, req(lambda w, o: f"/api/v1/participants/{o.participant}"), "participant"
    ),
    "GET /samples/<accession>": E("read", req(lambda w, o: f"/samples/{o.stored}"), "sample"),
    "GET /samples/<accession>/barcode.svg": E(
        LOGIN, req(lambda w, o: f"/samples/{o.stored}/barcode.svg"), "sample"
    ),
    "GET /samples/<accession>/process": E(
        "samples.register", req(lambda w, o: f"/samples/{o.primary}/process"), "sample"
    ),
    "POST /samples/<accession>/process": E(
        "samples.register", req(lambda w, o: f"/samples/{o.primary}/process", data=lambda w, o: {}), "sample"
    ),
    "POST /samples/labels": E(
        "samples.register",
        req(lambda w, o: "/samples/labels", data=lambda w, o: {"accession": [o.stored], "format": "zpl"}),
        "sample",
        in_url=False,
    ),
    "GET /samples/register/<code>/<timepoint>": E(
        "samples.register", req(lambda w, o: f"/samples/register/{o.participant}/EOT"), "participant"
    ),
    "POST /samples/register/<code>/<timepoint>": E(
        "samples.register",
        req(lambda w, o: f"/samples/register/{o.participant}/EOT", data=lambda w, o: {}),
        "participant",
    ),
    "GET /samples/registered/<code>/<timepoint>": E(
        LOGIN, req(lambda w, o: f"/samples/registered/{o.participant}/BASELINE"), "participant"
    ),
    "GET /api/v1/samples/": E("read", fixed("/api/v1/samples/")),
    "GET /api/v1/samples/<string:accession>": E(
        "read", req(lambda w, o: f"/api/v1/samples/{o.stored}"), "sample"
    ),
    # ----- consent and disposal ---------------------------------------------------------------------
    "GET /consent/<code>/withdraw": E(
        "consent.withdraw", req(lambda w, o: f"/consent/{o.withdrawn}/withdraw"), "participant"
    ),
    "POST /consent/<code>/withdraw": E(
        "consent.withdraw",
        req(
            lambda w, o: f"/consent/{o.participant}/withdraw",
            data=lambda w, o: {"on": "2025-03-02", "reason": "letter"},
        ),
        "participant",
    ),
    "POST /api/v1/consent/<code>/withdraw": E(
        "consent.withdraw",
        req(
            lambda w, o: f"/api/v1/consent/{o.participant}/withdraw",
            json=lambda w, o: {"on": "2025-03-02", "reason": "letter"},
        ),
        "participant",
    ),
    "GET /disposal/": E(
        LOGIN,
        req(lambda w, o: "/disposal/", query_string=lambda w, o: {"participant": o.withdrawn}),
        "participant",
        in_url=False,
        shows=lambda w, o: [o.quarantined, "participant request"],
    ),
    "GET /disposal/requests": E(
        "disposal.approve", fixed("/disposal/requests"), shows=lambda w, o: [o.disposal, "tube cracked"]
    ),
    "POST /disposal/requests": E(
        "disposal.approve",
        req(
            lambda w, o: "/disposal/requests",
            data=lambda w, o: {"request": [str(o.disposal_request)], "decision": "approve", **SIGNED},
        ),
        "disposal",
        in_url=False,
    ),
    "GET /api/v1/disposal/quarantined": E(
        "read", fixed("/api/v1/disposal/quarantined"), shows=lambda w, o: [o.quarantined]
    ),
    # ----- scan station -----------------------------------------------------------------------------
    "GET /station/": E(LOGIN, fixed("/station/")),
    "GET /api/v1/station/ping": E("read", fixed("/api/v1/station/ping")),
    "POST /api/v1/station/lookup": E(
        "read",
        req(lambda w, o: "/api/v1/station/lookup", json=lambda w, o: {"code": o.stored, "mode": "lookup"}),
        "sample",
        in_url=False,
    ),
    "POST /api/v1/station/check": E(
        "read",
        req(lambda w, o: "/api/v1/station/check", json=lambda w, o: {"code": o.stored, "mode": "lookup"}),
        "sample",
        in_url=False,
    ),
    "POST /api/v1/station/scan": E(
        "station.act",
        req(lambda w, o: "/api/v1/station/scan", json=lambda w, o: {"code": o.stored, **SCAN}),
        "sample",
        in_url=False,
    ),
    "POST /api/v1/station/batch": E(
        "station.act",
        req(lambda w, o: "/api/v1/station/batch", json=lambda w, o: {"codes": [o.stored], **SCAN}),
        "sample",
        in_url=False,
    ),
    # ----- storage ----------------------------------------------------------------------------------
    "GET /storage/": E(
        LOGIN,
        req(lambda w, o: "/storage/", query_string=lambda w, o: {"accession": o.loose}),
        "sample",
        in_url=False,
    ),
    "GET /storage/scan": E(
        LOGIN,
        req(lambda w, o: "/storage/scan", query_string=lambda w, o: {"barcode": o.box_barcode}),
        "unit",
        in_url=False,
    ),
    "GET /storage/retention": E(
        LOGIN, fixed("/storage/retention", query_string={"on": FAR_FUTURE}), shows=lambda w, o: [o.stored]
    ),
    "GET /storage/units/<int:unit_id>": E(
        LOGIN, req(lambda w, o: f"/storage/units/{o.box}"), "unit", shows=lambda w, o: [o.stored, o.packed]
    ),  # the box map
    "POST /storage/units": E(
        "storage.configure",
        req(
            lambda w, o: "/storage/units",
            data=lambda w, o: {
                "parent_id": str(o.rack),
                "kind": "box",
                "name": "New box",
                "barcode": f"NEW-{o.site}",
                "rows": "2",
                "cols": "2",
            },
        ),
        "unit",
        in_url=False,
    ),
    "POST /storage/units/<int:unit_id>/place": E(
        "storage.manage",
        req(lambda w, o: f"/storage/units/{o.box}/place", data=lambda w, o: {"code": o.loose}),
        "unit",
    ),
    "POST /storage/units/<int:unit_id>/move": E(
        "storage.manage",
        req(lambda w, o: f"/storage/units/{o.box2}/move", data=lambda w, o: {"into": o.freezer_barcode}),
        "unit",
    ),
    "GET /api/v1/storage/units": E(LOGIN, fixed("/api/v1/storage/units")),
    "POST /api/v1/storage/units": E(
        "storage.configure",
        req(
            lambda w, o: "/api/v1/storage/units",
            json=lambda w, o: {
                "parent_id": o.rack,
                "kind": "box",
                "name": "New box",
                "barcode": f"NEW-{o.site}",
                "rows": 2,
                "cols": 2,
            },
        ),
        "unit",
        in_url=False,
    ),
    "GET /api/v1/storage/units/<int:unit_id>": E(
        LOGIN,
        req(lambda w, o: f"/api/v1/storage/units/{o.box}"),
        "unit",
        shows=lambda w, o: [o.stored, o.packed],
    ),
    "POST /api/v1/storage/units/<int:unit_id>/place": E(
        "storage.manage",
        req(lambda w, o: f"/api/v1/storage/units/{o.box}/place", json=lambda w, o: {"code": o.loose}),
        "unit",
    ),
    "POST /api/v1/storage/units/<int:unit_id>/move": E(
        "storage.manage",
        req(
            lambda w, o: f"/api/v1/storage/units/{o.box2}/move", json=lambda w, o: {"into": o.freezer_barcode}
        ),
        "unit",
    ),
    "GET /api/v1/storage/locations/<accession>": E(
        LOGIN, req(lambda w, o: f"/api/v1/storage/locations/{o.stored}"), "sample"
    ),
    "GET /api/v1/storage/suggestions/<accession>": E(
        LOGIN, req(lambda w, o: f"/api/v1/storage/suggestions/{o.loose}"), "sample"
    ),
    "GET /api/v1/storage/retention": E(
        LOGIN,
        fixed("/api/v1/storage/retention", query_string={"on": FAR_FUTURE, "page_size": 100}),
        shows=lambda w, o: [o.stored],
    ),
    # ----- shipments --------------------------------------------------------------------------------
    "GET /shipments/": E(LOGIN, fixed("/shipments/"), shows=lambda w, o: ["SHP-ZJ-NB-0001"]),
    "POST /shipments/": E(
        "shipments.build",
        req(
            lambda w, o: "/shipments/",
            data=lambda w, o: {"from_site": o.site, "to_site": "WZ", "conditions": "dry_ice"},
        ),
        "site",
        in_url=False,
    ),
    "GET /shipments/<int:shipment_id>": E(LOGIN, req(lambda w, o: f"/shipments/{o.received}"), "shipment"),
    "POST /shipments/<int:shipment_id>/conditions": E(
        "shipments.build",
        req(
            lambda w, o: f"/shipments/{o.draft}/conditions",
            data=lambda w, o: {"conditions": "ln2_dry_shipper"},
        ),
        "shipment",
    ),
    "POST /shipments/<int:shipment_id>/items": E(
        "shipments.build",
        req(lambda w, o: f"/shipments/{o.draft}/items", data=lambda w, o: {"code": o.stored}),
        "shipment",
    ),
    "POST /shipments/<int:shipment_id>/items/<accession>/remove": E(
        "shipments.build", req(lambda w, o: f"/shipments/{o.draft}/items/{o.packed}/remove"), "shipment"
    ),
    "POST /shipments/<int:shipment_id>/late": E(
        "shipments.build",
        req(lambda w, o: f"/shipments/{o.incoming}/late", data=lambda w, o: {"code": o.incoming_tube}),
        "shipment",
    ),
    "GET /shipments/<int:shipment_id>/manifest.csv": E(
        LOGIN, req(lambda w, o: f"/shipments/{o.received}/manifest.csv"), "shipment"
    ),
    "GET /shipments/<int:shipment_id>/manifest.json": E(
        LOGIN, req(lambda w, o: f"/shipments/{o.received}/manifest.json"), "shipment"
    ),
    "POST /shipments/<int:shipment_id>/receive": E(
        "shipments.build",
        req(lambda w, o: f"/shipments/{o.incoming}/receive", data=lambda w, o: {"scans": o.incoming_tube}),
        "shipment",
    ),
    "POST /shipments/<int:shipment_id>/release": E(
        "shipments.release",
        req(lambda w, o: f"/shipments/{o.draft}/release", data=lambda w, o: SIGNED),
        "shipment",
    ),
    "GET /shipments/import": E("shipments.import", fixed("/shipments/import")),
    "POST /shipments/import": E("shipments.import", fixed("/shipments/import", data={})),
    "GET /api/v1/shipments/": E(LOGIN, fixed("/api/v1/shipments/"), shows=lambda w, o: ["SHP-ZJ-NB-0001"]),
    "POST /api/v1/shipments/": E(
        "shipments.build",
        req(
            lambda w, o: "/api/v1/shipments/",
            json=lambda w, o: {"from_site": o.site, "to_site": "WZ", "conditions": "dry_ice"},
        ),
        "site",
        in_url=False,
    ),
    "GET /api/v1/shipments/<int:shipment_id>": E(
        LOGIN, req(lambda w, o: f"/api/v1/shipments/{o.received}"), "shipment"
    ),
    "PATCH /api/v1/shipments/<int:shipment_id>": E(
        "shipments.build",
        req(lambda w, o: f"/api/v1/shipments/{o.draft}", json=lambda w, o: {"conditions": "ln2_dry_shipper"}),
        "shipment",
    ),
    "POST /api/v1/shipments/<int:shipment_id>/items": E(
        "shipments.build",
        req(lambda w, o: f"/api/v1/shipments/{o.draft}/items", json=lambda w, o: {"code": o.stored}),
        "shipment",
    ),
    "DELETE /api/v1/shipments/<int:shipment_id>/items/<accession>": E(
        "shipments.build", req(lambda w, o: f"/api/v1/shipments/{o.draft}/items/{o.packed}"), "shipment"
    ),
    "POST /api/v1/shipments/<int:shipment_id>/late": E(
        "shipments.build",
        req(lambda w, o: f"/api/v1/shipments/{o.incoming}/late", json=lambda w, o: {"code": o.incoming_tube}),
        "shipment",
    ),
    "GET /api/v1/shipments/<int:shipment_id>/manifest": E(
        LOGIN, req(lambda w, o: f"/api/v1/shipments/{o.received}/manifest"), "shipment"
    ),
    "GET /api/v1/shipments/<int:shipment_id>/manifest.csv": E(
        LOGIN, req(lambda w, o: f"/api/v1/shipments/{o.received}/manifest.csv"), "shipment"
    ),
    "POST /api/v1/shipments/<int:shipment_id>/receive": E(
        "shipments.build",
        req(
            lambda w, o: f"/api/v1/shipments/{o.incoming}/receive",
            json=lambda w, o: {"scans": [o.incoming_tube]},
        ),
        "shipment",
    ),
    "GET /api/v1/shipments/<int:shipment_id>/reconciliation": E(
        LOGIN, req(lambda w, o: f"/api/v1/shipments/{o.received}/reconciliation"), "shipment"
    ),
    "POST /api/v1/shipments/<int:shipment_id>/release": E(
        "shipments.release",
        req(lambda w, o: f"/api/v1/shipments/{o.draft}/release", json=lambda w, o: SIGNED),
        "shipment",
    ),
    "POST /api/v1/shipments/import": E("shipments.import", fixed("/api/v1/shipments/import", json={})),
    # ----- markers ----------------------------------------------------------------------------------
    "GET /markers/": E(LOGIN, fixed("/markers/")),
    "GET /markers/catalogue.csv": E(LOGIN, fixed("/markers/catalogue.csv")),
    "POST /markers/catalogue/import": E("markers.manage", fixed("/markers/catalogue/import", data={})),
    "GET /markers/new": E("markers.manage", fixed("/markers/new")),
    "POST /markers/new": E("markers.manage", fixed("/markers/new", data={})),
    "GET /markers/<code>/edit": E("markers.manage", req(lambda w, o: f"/markers/{w.marker}/edit")),
    "POST /markers/<code>/edit": E(
        "markers.manage", req(lambda w, o: f"/markers/{w.marker}/edit", data=lambda w, o: {})
    ),
    "GET /markers/import": E("markers.import", fixed("/markers/import")),
    "POST /markers/import": E("markers.import", fixed("/markers/import", data={})),
    "GET /markers/export": E("export.dataset", fixed("/markers/export")),
    "POST /markers/export": E("export.dataset", fixed("/markers/export", data={})),
    "GET /markers/results": E(
        LOGIN,
        req(lambda w, o: "/markers/results", query_string=lambda w, o: {"participant": o.participant}),
        "participant",
        in_url=False,
        shows=lambda w, o: [o.stored],
    ),
    "GET /api/v1/markers/": E(LOGIN, fixed("/api/v1/markers/")),
    "POST /api/v1/markers/": E("markers.manage", fixed("/api/v1/markers/", json={})),
    "GET /api/v1/markers/<marker_code:code>": E(LOGIN, req(lambda w, o: f"/api/v1/markers/{w.marker}")),
    "PUT /api/v1/markers/<marker_code:code>": E(
        "markers.manage", req(lambda w, o: f"/api/v1/markers/{w.marker}", json=lambda w, o: {})
    ),
    "GET /api/v1/markers/results": E(
        LOGIN,
        req(lambda w, o: "/api/v1/markers/results", query_string=lambda w, o: {"participant": o.participant}),
        "participant",
        in_url=False,
        shows=lambda w, o: [o.stored],
    ),
    "POST /api/v1/markers/imports": E("markers.import", fixed("/api/v1/markers/imports", data={})),
    "POST /api/v1/markers/exports": E("export.dataset", fixed("/api/v1/markers/exports", json={})),
    # ----- clinical ---------------------------------------------------------------------------------
    "GET /clinical/": E("clinical.read", fixed("/clinical/")),
    "GET /clinical/endpoints.csv": E("clinical.read", fixed("/clinical/endpoints.csv")),
    "GET /clinical/import": E("clinical.import", fixed("/clinical/import")),
    "POST /clinical/import": E("clinical.import", fixed("/clinical/import", data={})),
    "GET /clinical/quality": E("clinical.queries", fixed("/clinical/quality")),
    "POST /clinical/redcap-sync": E("jobs.admin", fixed("/clinical/redcap-sync", data={})),
    "GET /clinical/<code>": E("clinical.read", req(lambda w, o: f"/clinical/{o.participant}"), "participant"),
    "POST /clinical/<code>/lock": E(
        "clinical.lock",
        req(lambda w, o: f"/clinical/{o.participant}/lock", data=lambda w, o: {"reason": "final", **SIGNED}),
        "participant",
    ),
    "POST /clinical/<code>/unlock": E(
        "clinical.lock",
        req(lambda w, o: f"/clinical/{o.participant}/unlock", data=lambda w, o: {"reason": "fix", **SIGNED}),
        "participant",
    ),
    "GET /api/v1/clinical/endpoints": E("clinical.read", fixed("/api/v1/clinical/endpoints")),
    "GET /api/v1/clinical/imports": E("clinical.import", fixed("/api/v1/clinical/imports")),
    "POST /api/v1/clinical/imports": E("clinical.import", fixed("/api/v1/clinical/imports", data={})),
    "GET /api/v1/clinical/queries": E("clinical.queries", fixed("/api/v1/clinical/queries")),
    "GET /api/v1/clinical/participants/<string:code>/endpoints": E(
        "clinical.read",
        req(lambda w, o: f"/api/v1/clinical/participants/{o.participant}/endpoints"),
        "participant",
    ),
    "GET /api/v1/clinical/participants/<string:code>/qol": E(
        "clinical.read", req(lambda w, o: f"/api/v1/clinical/participants/{o.participant}/qol"), "participant"
    ),
    "GET /api/v1/clinical/participants/<string:code>/timeline": E(
        "clinical.read",
        req(lambda w, o: f"/api/v1/clinical/participants/{o.participant}/timeline"),
        "participant",
    ),
    # ----- results and signatures (study-wide: no site object in them) ------------------------------
    "GET /results/endpoints": E("results.read", fixed("/results/endpoints")),
    "GET /results/endpoints/qol.<fmt>": E("results.read", fixed("/results/endpoints/qol.svg"), data_404=True),
    "GET /results/endpoints/<name>.<fmt>": E(
        "results.read", fixed("/results/endpoints/os.svg"), data_404=True
    ),
    "GET /results/associations": E("results.read", fixed("/results/associations")),
    "POST /results/associations": E("analysis.run", fixed("/results/associations", data={})),
    "GET /results/runs/<int:run_id>": E("results.read", req(lambda w, o: f"/results/runs/{w.results_run}")),
    "GET /results/runs/<int:run_id>/results.csv": E(
        "results.read", req(lambda w, o: f"/results/runs/{w.results_run}/results.csv")
    ),
    "GET /results/runs/<int:run_id>/<any(volcano, forest):kind>.<fmt>": E(
        "results.read", req(lambda w, o: f"/results/runs/{w.results_run}/volcano.svg")
    ),
    "GET /results/runs/<int:run_id>/rerun": E(
        "results.read", req(lambda w, o: f"/results/runs/{w.results_run}/rerun")
    ),
    "GET /results/runs/<int:run_id>/markers/<marker>": E(
        "results.read", req(lambda w, o: f"/results/runs/{w.results_run}/markers/{w.marker}"), data_404=True
    ),
    "GET /results/runs/<int:run_id>/markers/<marker>/<kind>.<fmt>": E(
        "results.read",
        req(lambda w, o: f"/results/runs/{w.results_run}/markers/{w.marker}/km.svg"),
        data_404=True,
    ),
    "GET /api/v1/results/runs": E("results.read", fixed("/api/v1/results/runs")),
    "POST /api/v1/results/runs": E("analysis.run", fixed("/api/v1/results/runs", json={})),
    "GET /api/v1/results/runs/<int:run_id>": E(
        "results.read", req(lambda w, o: f"/api/v1/results/runs/{w.results_run}")
    ),
    "GET /api/v1/results/runs/<int:run_id>/rerun": E(
        "results.read", req(lambda w, o: f"/api/v1/results/runs/{w.results_run}/rerun")
    ),
    "GET /signatures/": E("signatures.read", fixed("/signatures/")),
    "POST /signatures/": E("analysis.run", fixed("/signatures/", data={})),
    "GET /signatures/runs/<int:run_id>": E(
        "signatures.read", req(lambda w, o: f"/signatures/runs/{w.signature_run}")
    ),
    "GET /signatures/runs/<int:run_id>/<any(calibration, decision):name>.<any(png, svg):fmt>": E(
        "signatures.read",
        req(lambda w, o: f"/signatures/runs/{w.signature_run}/calibration.svg"),
        data_404=True,
    ),
    "GET /signatures/runs/<int:run_id>/model.json": E(
        "signatures.read", req(lambda w, o: f"/signatures/runs/{w.signature_run}/model.json")
    ),
    "GET /signatures/runs/<int:run_id>/report.html": E(
        "signatures.read", req(lambda w, o: f"/signatures/runs/{w.signature_run}/report.html")
    ),
    "GET /signatures/runs/<int:run_id>/report.pdf": E(
        "signatures.read", req(lambda w, o: f"/signatures/runs/{w.signature_run}/report.pdf")
    ),
    "POST /signatures/runs/<int:run_id>/rerun": E(
        "analysis.run", req(lambda w, o: f"/signatures/runs/{w.signature_run}/rerun")
    ),
    "GET /api/v1/signatures/runs": E("signatures.read", fixed("/api/v1/signatures/runs")),
    "POST /api/v1/signatures/runs": E("analysis.run", fixed("/api/v1/signatures/runs", json={})),
    "GET /api/v1/signatures/runs/<int:run_id>": E(
        "signatures.read", req(lambda w, o: f"/api/v1/signatures/runs/{w.signature_run}")
    ),
    "POST /api/v1/signatures/runs/<int:run_id>/rerun": E(
        "analysis.run", req(lambda w, o: f"/api/v1/signatures/runs/{w.signature_run}/rerun")
    ),
    # ----- audit ------------------------------------------------------------------------------------
    "GET /audit/": E("audit.read", fixed("/audit/")),
    "GET /audit/export.csv": E("audit.read", fixed("/audit/export.csv"),
                               shows=lambda w, o: [o.participant, o.stored, o.box_barcode]),
    **ADMIN_ROUTES,
    **LAB_ROUTES,
}
