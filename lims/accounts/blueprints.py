"""Register the accounts pages: login, self-service, user administration; the rate limits and SSO client."""

from __future__ import annotations

from typing import Any

from flask import Flask, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_smorest import Api

# Pages a user may reach before the account is in order (first password changed, second factor set up).
OPEN_ENDPOINTS = frozenset({
    "static", "index", "health", "swagger_assets", "accounts.login", "accounts.logout",
    "accounts.second_factor",
    "accounts.sso_start", "accounts.sso_callback", "accounts.reset",
})


def register(app: Flask, api: Api) -> None:
    """Add the account pages, the user administration, the rate limits and the OpenID client."""
    import lims.accounts.self_views  # noqa: F401 - adds the self-service routes to the blueprint
    from lims.accounts import limits, sso
    from lims.accounts.admin_views import bp as users_bp
    from lims.accounts.views import bp

    app.config.setdefault("MFA_ROLES", "admin,lab_manager")
    app.register_blueprint(bp)
    app.register_blueprint(users_bp)
    app.config["NAV"].append(("users.index", "Users"))
    limiter = limits.init_app(app)
    views = app.view_functions
    views["accounts.login"] = limits.limit_login(limiter, views["accounts.login"])
    views["accounts.second_factor"] = limits.limit_address(
        limiter, views["accounts.second_factor"], "RATELIMIT_LOGIN_ADDRESS",
        "Too many wrong codes from your address; wait a minute", failures_only=True)
    views["accounts.reset"] = limits.limit_address(
        limiter, views["accounts.reset"], "RATELIMIT_RESET",
        "Too many password-reset attempts from your address")
    views["accounts.tokens"] = limits.limit_address(
        limiter, views["accounts.tokens"], "RATELIMIT_TOKEN", "Too many tokens created from your address")
    sso.init_oidc(app)
    app.before_request(_account_in_order)


def _account_in_order() -> Any:
    """Send a logged-in user to change a first password or set up a required second factor before anything."""
    if request.endpoint is None or request.endpoint in OPEN_ENDPOINTS or not current_user.is_authenticated:
        return None
    if g.get("via_token"):
        return None
    from flask import session

    from lims.accounts import totp

    if current_user.must_change_password and current_user.auth_source == "local":
        target, why = "accounts.password", "Choose your own password before you go on."
    elif (session.get("_method") in ("password", "ldap") and totp.required_for(current_user)
          and not current_user.has_totp):
        target, why = "accounts.mfa", "Your role must use a second factor: set it up before you go on."
    else:
        return None
    if request.endpoint == target:
        return None
    if request.path.startswith("/api/"):
        return jsonify({"code": 403, "status": "Forbidden", "message": why, "errors": {}}), 403
    flash(why, "error")
    return redirect(url_for(target))
