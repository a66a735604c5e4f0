"""What the routes of logging in, one's account, user administration, jobs and manifest keys need.

See :mod:`tests.access.routes` for the kinds; ``job`` and ``session`` are, like ``token``, one's own: somebody
else's is answered like one that does not exist (an admin sees everyone's jobs, but ends only their own
sessions here).
"""

from __future__ import annotations

from tests.access.expect import PUBLIC, E, Expect, fixed, req
from tests.conftest import PASSWORD

NEW_PASSWORD = "a new passphrase, long enough 7"

ADMIN_ROUTES: dict[str, Expect] = {
    # ----- logging in: the second step, single sign-on (not configured here), reset links ------------
    "GET /login/second-factor": E(PUBLIC, fixed("/login/second-factor")),
    "POST /login/second-factor": E(PUBLIC, fixed("/login/second-factor", data={"code": "000000"})),
    "GET /login/sso": E(PUBLIC, fixed("/login/sso"), data_404=True),
    "GET /login/sso/callback": E(PUBLIC, fixed("/login/sso/callback"), data_404=True),
    "GET /reset/<token>": E(PUBLIC, req(lambda w, o: f"/reset/{w.reset_token}")),
    "POST /reset/<token>": E(
        PUBLIC,
        req(
            lambda w, o: f"/reset/{w.reset_token}",
            data=lambda w, o: {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ),
    ),
    # ----- one's own account ------------------------------------------------------------------------
    "GET /account": E("account.self", fixed("/account")),
    "GET /account/password": E("account.self", fixed("/account/password")),
    "POST /account/password": E(
        "account.self",
        fixed(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        ),
    ),
    "GET /account/mfa": E("account.self", fixed("/account/mfa")),
    "POST /account/mfa": E("account.self", fixed("/account/mfa", data={"action": "start"})),
    "POST /account/sessions/<int:session_id>/revoke": E(
        "account.self", req(lambda w, o: f"/account/sessions/{o.session}/revoke"), "session"
    ),
    "POST /account/sessions/revoke-others": E("account.self", fixed("/account/sessions/revoke-others")),
    # ----- user administration ----------------------------------------------------------------------
    "GET /admin/users/": E("users.manage", fixed("/admin/users/"), shows=lambda w, o: [w.leaver]),
    "GET /admin/users/new": E("users.manage", fixed("/admin/users/new")),
    "POST /admin/users/new": E(
        "users.manage",
        fixed(
            "/admin/users/new",
            data={
                "username": "rt_newcomer",
                "full_name": "Newcomer",
                "role": "technician",
                "auth_source": "local",
                "password": "a first password 1",
                "sites": "ZJ",
            },
        ),
    ),
    "GET /admin/users/<username>": E(
        "users.manage", req(lambda w, o: f"/admin/users/{w.leaver}"), shows=lambda w, o: [w.leaver]
    ),
    "POST /admin/users/<username>": E(
        "users.manage",
        req(
            lambda w, o: f"/admin/users/{w.leaver}",
            data=lambda w, o: {"full_name": "Leaver", "role": "technician", "sites": "SX", "active": "on"},
        ),
    ),
    "POST /admin/users/<username>/deactivate": E(
        "users.manage", req(lambda w, o: f"/admin/users/{w.leaver}/deactivate")
    ),
    "POST /admin/users/<username>/reset": E(
        "users.manage", req(lambda w, o: f"/admin/users/{w.leaver}/reset", data=lambda w, o: {"hours": "24"})
    ),
    "POST /admin/users/<username>/second-factor/remove": E(
        "users.manage", req(lambda w, o: f"/admin/users/{w.leaver}/second-factor/remove")
    ),
    # ----- background jobs (one's own; admins: everyone's) ------------------------------------------
    "GET /jobs/": E("read", fixed("/jobs/")),
    "GET /jobs/<int:job_id>": E("read", req(lambda w, o: f"/jobs/{o.job}"), "job"),
    "POST /jobs/<int:job_id>/cancel": E("read", req(lambda w, o: f"/jobs/{o.job}/cancel"), "job"),
    "POST /jobs/<int:job_id>/retry": E("read", req(lambda w, o: f"/jobs/{o.job}/retry"), "job"),
    "GET /api/v1/jobs/": E("read", fixed("/api/v1/jobs/")),
    # a job's file: the requester's own only (o.job is a failed self-test: it has none, hence data 404)
    "GET /jobs/<int:job_id>/download": E("read", req(lambda w, o: f"/jobs/{o.job}/download"), "job",
                                         data_404=True),
    "GET /api/v1/jobs/<int:job_id>/download": E(
        "read", req(lambda w, o: f"/api/v1/jobs/{o.job}/download"), "job", data_404=True
    ),
    "GET /api/v1/jobs/<int:job_id>": E("read", req(lambda w, o: f"/api/v1/jobs/{o.job}"), "job"),
    "POST /api/v1/jobs/<int:job_id>/cancel": E(
        "read", req(lambda w, o: f"/api/v1/jobs/{o.job}/cancel"), "job"
    ),
    "POST /api/v1/jobs/<int:job_id>/retry": E("read", req(lambda w, o: f"/api/v1/jobs/{o.job}/retry"), "job"),
    "POST /api/v1/jobs/selftest": E("jobs.admin", fixed("/api/v1/jobs/selftest", json={"seconds": 0})),
    # ----- manifest signing keys (this installation's, and trusted partners') -----------------------
    "GET /shipments/keys": E("manifests.keys", fixed("/shipments/keys"), shows=lambda w, o: ["partner-lab"]),
    "POST /shipments/keys": E(
        "manifests.keys", fixed("/shipments/keys", data={"installation": "other-lab", "public_key": "AAAA"})
    ),
    "POST /shipments/keys/<int:key_id>/revoke": E(
        "manifests.keys", req(lambda w, o: f"/shipments/keys/{w.partner_key}/revoke")
    ),
    "GET /api/v1/shipments/keys/": E(
        "manifests.keys", fixed("/api/v1/shipments/keys/"), shows=lambda w, o: ["partner-lab"]
    ),
    "GET /api/v1/shipments/keys/own": E("manifests.keys", fixed("/api/v1/shipments/keys/own")),
    "POST /api/v1/shipments/keys/": E(
        "manifests.keys",
        fixed("/api/v1/shipments/keys/", json={"installation": "other-lab", "public_key": "AAAA"}),
    ),
    "POST /api/v1/shipments/keys/<int:key_id>/revoke": E(
        "manifests.keys", req(lambda w, o: f"/api/v1/shipments/keys/{w.partner_key}/revoke")
    ),
}
