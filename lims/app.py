"""Wire extensions, blueprints, error handlers and the login loader into an app."""

from __future__ import annotations

from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import (
    Flask,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask import session as flask_session
from flask_login import current_user
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter

from lims import __version__, access
from lims.core import vocabulary
from lims.core.api import exclusive_bounds
from lims.core.errors import Busy, Conflict, DomainError, integrity_message
from lims.core.uow import is_retryable, run, transactional
from lims.extensions import api, csrf, db, login_manager
from lims.studies.service import STUDY_CODE_KINDS, study_names


class DatabaseId(IntegerConverter):
    """``<int:...>`` in URLs, bounded to the database's 32-bit keys so a huge number is a 404, not a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _has_nul(value: Any) -> bool:
    """Tell whether any text in a (nested) request value contains a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    if hasattr(value, "lists"):  # werkzeug MultiDict
        return any(_has_nul(k) or _has_nul(vs) for k, vs in value.lists())
    return False


def schema_name(schema: Any) -> str:
    """Name OpenAPI schemas by domain and class (StationScan, StorageScan) so domains never collide."""
    cls = schema if isinstance(schema, type) else type(schema)
    parts = cls.__module__.split(".")
    domain = parts[1].title() if len(parts) > 2 and parts[0] == "lims" else ""
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    if name.lower().startswith(domain.lower()):
        domain = ""
    if not isinstance(schema, type) and getattr(schema, "partial", False):
        name += "Partial"
    return f"{domain}{name}"


def _the_study() -> Any:
    """Return the installed study, or None before one is installed."""
    from lims.core.errors import NotFound
    from lims.studies.service import get_study

    try:
        return get_study(db.session)
    except NotFound:
        return None


def init_app(app: Flask) -> None:
    """Initialise extensions and register every domain's blueprints."""
    app.url_map.converters["int"] = DatabaseId
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    _init_api(app)
    _init_login(app)

    from lims.domains import domain_modules

    app.config.setdefault("NAV", [])
    for module in domain_modules("blueprints"):
        module.register(app, api)
    _register_core_views(app)
    # Every request is one unit of work: it commits once when it succeeds (lims.core.uow).
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = transactional(view)
    _register_hooks(app)


def _init_api(app: Flask) -> None:
    """Set up the JSON API's OpenAPI document: description, security schemes, converters."""
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    api.init_app(app, spec_kwargs={
        "info": {"description": "Trialbank JSON API. Every list is paginated (X-Pagination). Authorise with "
                                "an API token (Authorization: Bearer ..., made on /account/tokens) or a "
                                "logged-in session. Text anywhere in a request may not contain NUL (U+0000) "
                                "characters: such a request is refused with 422. Numbers are finite (no NaN "
                                "or infinity) and dates are YYYY-MM-DD between 1900-01-01 and 2200-12-31."},
        "marshmallow_plugin": plugin,
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
    })
    assert plugin.converter is not None  # made by api.init_app
    plugin.converter.add_attribute_function(exclusive_bounds)
    # Declared so that the Swagger page (/api/v1/docs) offers "Authorize" with a token.
    api.spec.components.security_scheme("bearerToken", {
        "type": "http", "scheme": "bearer", "bearerFormat": "tb_...",
        "description": "An API token from /account/tokens; it acts as its owner, with their role and sites."})
    api.spec.components.security_scheme("sessionCookie", {
        "type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME", "session"),
        "description": "The session cookie of a browser logged in to Trialbank."})
    api.register_converter(DatabaseId, lambda c: {"type": "integer", "minimum": c.min or 0, "maximum": c.max})


def _init_login(app: Flask) -> None:
    """Load the user of a request from its server-side session, or from an API token."""
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to see this page."
    import lims.core.audit  # noqa: F401 - registers the data-change listeners
    from lims.accounts.models import User

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # The cookie names a server-side session: a revoked session, or a deactivated user, is logged out at
        # once.
        from lims.accounts.sessions import session_for

        row = session_for(db.session, flask_session.get("_sid"), idle=app.permanent_session_lifetime)
        return row.user if row is not None and str(row.user_id) == user_id else None

    @login_manager.request_loader
    def load_user_from_token(req: Any) -> User | None:
        header = req.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        from lims.accounts.service import user_for_token

        # The bookkeeping (last use, token audit) joins the request's unit of work; see lims.core.uow.
        user, problem = user_for_token(db.session, header[7:], where=req.path)
        g.token_error = problem
        g.via_token = user is not None
        return user


def _register_core_views(app: Flask) -> None:
    """Add the front door, the offline Swagger assets and the health check."""

    @app.get("/")
    def index() -> Any:
        if current_user.is_authenticated:
            return redirect(url_for("participants.index"))
        return redirect(url_for("accounts.login"))

    @app.get("/api/v1/docs-assets/<path:filename>")
    def swagger_assets(filename: str) -> Any:
        from swagger_ui_bundle import swagger_ui_path

        return send_from_directory(str(swagger_ui_path), filename, max_age=3600)

    @app.get("/health")
    def health() -> Any:
        from lims.core.health import health_report

        report = health_report()
        return jsonify(report), (200 if report["database"] == "ok" else 503)


def _register_hooks(app: Flask) -> None:
    """Add request checks, the template context and the error handlers."""
    _door(app)
    _template_helpers(app)
    _error_handlers(app)


def _door(app: Flask) -> None:
    """Refuse what no request needs (NUL characters, absurdly deep JSON) before any view sees it."""

    def door_problem() -> str | None:
        try:
            body = request.get_json(silent=True) if request.is_json else None
            # PostgreSQL cannot store NUL in text, and no lab value contains one: refuse it at the door.
            if _has_nul(request.args) or _has_nul(request.form) or _has_nul(body):
                return "text may not contain NUL (\\u0000) characters"
        except RecursionError:  # Python's JSON reader gives up on very deep nesting; no request needs it
            return "the JSON body is nested too deeply"
        return None

    @app.before_request
    def refuse_at_the_door() -> Any:
        message = door_problem()
        if message is not None:
            if request.path.startswith("/api/"):
                return jsonify({"code": 422, "status": "Unprocessable Entity", "message": message,
                                "errors": {}}), 422
            return render_template("error.html", code=400, message=message), 400
        return None


def _template_helpers(app: Flask) -> None:
    """Give templates may(), the date and time filters, readable labels and the navigation."""

    def may(action: str, obj: Any = None) -> bool:
        """Tell templates whether the current user may do ``action`` (on ``obj``): the permission table +
        scope."""
        return access.may_act(current_user, action, obj)

    def participant_date(value: Any, participant: Any, time: bool = False) -> str:
        """Show a participant's date as the viewer may see it: a calendar date or a study day."""
        return access.when(current_user, participant, value, time=time) if value is not None else "—"

    def study_zone() -> Any:
        """Return the installed study's time zone (once per request)."""
        if "_study_zone" not in g:
            g._study_zone = access.study_zone(_the_study())
        return g._study_zone

    def local_time(value: Any, time: bool = True) -> str:
        """Show a stored (UTC) time in the study's local time: '2025-01-08 09:30'."""
        return access.format_local(value, study_zone(), time=time, empty="—")

    def readable(code: Any, kind: str | None = None) -> str:
        """Show a code by its name: study codes (stratum, sample_type, container, timepoint) from the
        protocol."""
        if code is None or code == "":
            return "—"
        if kind in STUDY_CODE_KINDS:
            if "_study_names" not in g:
                g._study_names = study_names(_the_study())
            return g._study_names.get((kind, str(code)), vocabulary.humanise(str(code)))
        return vocabulary.field_label(str(code)) if kind == "field" else vocabulary.label(str(code), kind)

    app.jinja_env.globals["may"] = may
    app.jinja_env.filters["pdate"] = participant_date
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["label"] = readable
    app.jinja_env.filters["sentence"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    app.jinja_env.globals["study_zone_name"] = lambda: str(study_zone())

    @app.context_processor
    def inject() -> dict[str, Any]:
        def nav_items() -> list[tuple[str, str]]:
            return [(endpoint, label) for endpoint, label in app.config["NAV"]
                    if may(getattr(app.view_functions.get(endpoint), "permission", "read"))]

        return {"version": __version__, "nav_items": nav_items}


def _error_handlers(app: Flask) -> None:
    """Answer refusals and errors as JSON under /api/ and as a page elsewhere; never a bare 500 for bad
    input."""

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        if request.path.startswith("/api/"):
            problems = getattr(exc, "problems", None) or ({exc.field: exc.message} if exc.field else {})
            return jsonify({"code": exc.status, "status": HTTP_STATUS_CODES.get(exc.status, "Error"),
                            "message": exc.message,
                            "errors": {k: [v] for k, v in problems.items()}}), exc.status
        return render_template("error.html", code=exc.status, message=exc.message), exc.status

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError) -> Any:
        # A constraint no service foresaw, met by a flush before the commit (the commit's own is mapped by the
        # unit of work): a clear conflict, not a 500. The unit has been rolled back.
        return domain_error(Conflict(integrity_message(exc)))

    @app.errorhandler(OperationalError)
    def operational_error(exc: OperationalError) -> Any:
        if not is_retryable(exc):
            raise exc
        # Every attempt of the unit met a locked database (many writers on SQLite): nothing was saved, and
        # the client may simply try again.
        busy = Busy("the database is busy with other changes; nothing was saved, try again in a few seconds")
        response = make_response(domain_error(busy))
        response.headers["Retry-After"] = str(Busy.retry_after)
        return response

    @app.errorhandler(DataError)
    def data_error(exc: DataError) -> Any:
        # A value the database cannot hold (too long, out of range) that no validator caught: say so, don't
        # 500.
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        message = f"a value could not be stored: {reason}; nothing was saved"
        if request.path.startswith("/api/"):
            return jsonify({"code": 422, "status": "Unprocessable Entity", "message": message,
                            "errors": {}}), 422
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return api.handle_http_exception(exc)
        # A URL no view matched has no unit of work around it, yet the page asks who is logged in (a token's
        # use is recorded): render it as a unit of its own, always rolled back, bookkeeping kept.
        def page() -> Any:
            return make_response(render_template("error.html", code=exc.code, message=exc.description),
                                 exc.code or 500)

        return run(db.session, page, failed=lambda _response: True)
