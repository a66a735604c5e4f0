"""Single sign-on: OpenID Connect (Authlib: authorization code + PKCE, discovery) and the provisioning both
OIDC and LDAP logins share: groups mapped to a role and sites by settings, first login creating or refusing.

Settings (``LIMS_`` environment variables; maps are JSON):

- ``OIDC_DISCOVERY_URL`` (``https://idp/.well-known/openid-configuration``), ``OIDC_CLIENT_ID``,
  ``OIDC_CLIENT_SECRET``, ``OIDC_SCOPES`` (default ``openid profile email groups``), ``OIDC_NAME`` (button),
  ``OIDC_USERNAME_CLAIM`` (default ``preferred_username``), ``OIDC_GROUPS_CLAIM`` (default ``groups``);
- ``<SOURCE>_ROLE_MAP`` ``{"group": "role"}`` and ``<SOURCE>_SITE_MAP`` ``{"group": "SITE"}`` (SOURCE is
  OIDC or LDAP); with several matching groups the most privileged role wins (order of ``ROLES``);
- ``<SOURCE>_PROVISION`` (default true): a first login creates the account; false: an administrator must
  create it first (login through OIDC/LDAP chosen on the user's page).

The identity provider owns these users' role and sites: they are brought up to date at every login and the
change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accounts.models import ROLES, User
from lims.accounts.service import add_user, sites_by_code
from lims.core import audit
from lims.core.errors import DomainError, Forbidden


class ProviderUnavailable(DomainError):
    """The identity provider or directory could not be reached: a clear message, not a 500."""

    status = 503


@dataclass(frozen=True)
class ExternalIdentity:
    """Who the identity provider says logged in."""

    source: str  # "oidc" or "ldap"
    external_id: str
    username: str
    full_name: str = ""
    email: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)


def setting(config: Mapping[str, Any], source: str, name: str, default: Any = None) -> Any:
    """Return the ``<SOURCE>_<NAME>`` setting."""
    return config.get(f"{source.upper()}_{name}", default)


def map_groups(groups: Iterable[str], role_map: Mapping[str, str],
               site_map: Mapping[str, str]) -> tuple[str, list[str]]:
    """Return (role, site codes) for the identity's groups; refuse when no group gives a role."""
    groups = list(groups)
    lowered = {g.lower() for g in groups}
    roles = {role for group, role in (role_map or {}).items() if group.lower() in lowered}
    unknown = roles - set(ROLES)
    if unknown:
        raise DomainError(f"the role map names unknown role(s) {', '.join(sorted(unknown))}; fix the setting")
    if not roles:
        shown = ", ".join(groups[:10]) or "none"
        raise Forbidden(f"your account is in no group that Trialbank gives a role to (your groups: {shown}); "
                        "ask your administrator")
    role = next(r for r in ROLES if r in roles)
    sites = sorted({code for group, code in (site_map or {}).items() if group.lower() in lowered})
    return role, sites


def _find(session: Session, who: ExternalIdentity) -> User | None:
    user = session.scalar(select(User)
                          .where(User.auth_source == who.source, User.external_id == who.external_id))
    if user is not None:
        return user
    user = session.scalar(select(User).where(User.username == who.username))
    if user is None:
        return None
    # An OIDC subject never changes, so a different one is another person; an LDAP entry's DN changes when
    # IT moves the account to another OU, and the user name still names the same person.
    if user.auth_source != who.source or (who.source == "oidc"
                                          and user.external_id not in (None, who.external_id)):
        raise Forbidden(f"a Trialbank account named {who.username!r} exists but does not log in through "
                        f"{who.source.upper()}; ask an administrator to switch it")
    user.external_id = who.external_id  # an account an administrator created for this person: link it
    return user


def sign_in_external(session: Session, who: ExternalIdentity, config: Mapping[str, Any]) -> User:
    """Return the Trialbank user of an identity the provider vouched for, creating or updating it."""
    if not who.username.strip():
        raise DomainError("the identity provider sent no user name")
    role, site_codes = map_groups(who.groups, setting(config, who.source, "ROLE_MAP", {}),
                                  setting(config, who.source, "SITE_MAP", {}))
    user = _find(session, who)
    if user is None:
        if not setting(config, who.source, "PROVISION", True):
            raise Forbidden(f"there is no Trialbank account for {who.username!r}; ask an administrator to "
                            "create it")
        user = add_user(session, username=who.username, password=None, role=role, full_name=who.full_name,
                        site_codes=site_codes, email=who.email, auth_source=who.source,
                        external_id=who.external_id)
        audit.record(session, "user_provisioned", user=user, object_type="user", object_id=user.id,
                     detail=f"first {who.source.upper()} login",
                     changes={"new": {"role": role, "sites": site_codes}})
        return user
    if not user.active:
        raise Forbidden(f"the Trialbank account {user.username!r} is deactivated; ask an administrator")
    old = {"role": user.role, "sites": user.site_codes}
    if old != {"role": role, "sites": site_codes}:
        user.role, user.sites = role, sites_by_code(session, site_codes)
        audit.record(session, "sso_privileges_synced", user=user, object_type="user", object_id=user.id,
                     detail=f"from {who.source.upper()} groups",
                     changes={k: {"old": old[k], "new": v} for k, v in (("role", role), ("sites", site_codes))
                              if old[k] != v})
    if who.full_name and who.full_name != user.full_name:
        user.full_name = who.full_name[:200]
    if who.email and who.email != user.email:
        user.email = who.email[:200]
    session.flush()
    return user


def oidc_enabled(app_config: Mapping[str, Any]) -> bool:
    """Tell whether an OpenID provider is configured."""
    return bool(app_config.get("OIDC_DISCOVERY_URL") and app_config.get("OIDC_CLIENT_ID"))


def init_oidc(app: Flask) -> None:
    """Register the OpenID Connect client (discovery is fetched on first use, so a provider that is down
    at start-up does not stop Trialbank)."""
    if not oidc_enabled(app.config):
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    oauth.register(
        "oidc", client_id=app.config["OIDC_CLIENT_ID"], client_secret=app.config.get("OIDC_CLIENT_SECRET"),
        server_metadata_url=app.config["OIDC_DISCOVERY_URL"],
        client_kwargs={"scope": app.config.get("OIDC_SCOPES", "openid profile email groups"),
                       "code_challenge_method": "S256", "timeout": float(app.config.get("OIDC_TIMEOUT", 10))},
    )
    app.extensions["lims_oidc"] = oauth.oidc


def identity_from_claims(claims: Mapping[str, Any], config: Mapping[str, Any]) -> ExternalIdentity:
    """Turn ID-token and userinfo claims into an identity."""
    groups = claims.get(config.get("OIDC_GROUPS_CLAIM", "groups")) or []
    if isinstance(groups, str):
        groups = [groups]
    username = str(claims.get(config.get("OIDC_USERNAME_CLAIM", "preferred_username")) or claims.get("sub")
                   or "")
    return ExternalIdentity(source="oidc",
                            external_id=f"{claims.get('iss', '')}|{claims.get('sub', '')}"[:500],
                            username=username[:80], full_name=str(claims.get("name") or username)[:200],
                            email=claims.get("email"), groups=tuple(str(g) for g in groups))
