"""Access control: every page needs a login; ``role_required`` guards actions by role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, request
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: str) -> Callable[[F], F]:
    """Allow the view only to logged-in users with one of ``roles`` (admins always pass).

    With no roles, any logged-in user passes. Anonymous users are sent to the login page
    (pages) or get 401 (API); users without the role get 403.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401, description=g.get("token_error") or "log in, or send an API token as "
                                                                  "'Authorization: Bearer <token>'")
                from lims.extensions import login_manager

                return login_manager.unauthorized()
            if roles and current_user.role not in roles and current_user.role != "admin":
                abort(403, description=f"your role ({current_user.role.replace('_', ' ')}) may not do this; "
                                       f"it needs: {', '.join(r.replace('_', ' ') for r in roles)}")
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


login_required = role_required()
