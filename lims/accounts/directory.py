"""LDAP / Active Directory login with python-ldap: search the user with a service account, bind as them
with their password, read their groups.

Settings (``LIMS_`` environment variables):

- ``LDAP_URL`` (``ldaps://dc1.hospital.local`` or ``ldap://...``), ``LDAP_START_TLS`` (upgrade ldap://),
  ``LDAP_CA_FILE`` (the CA that signed the directory's certificate), ``LDAP_TLS_VERIFY`` (default true);
- ``LDAP_BIND_DN`` / ``LDAP_BIND_PASSWORD``: the service account that searches (empty: anonymous search);
- ``LDAP_USER_BASE``, ``LDAP_USER_FILTER`` (default ``(uid={username})``; Active Directory:
  ``(sAMAccountName={username})``), ``LDAP_DISABLED_FILTER`` (an entry matching it is refused as disabled;
  Active Directory: ``(userAccountControl:1.2.840.113556.1.4.803:=2)``);
- groups: ``LDAP_GROUP_BASE`` + ``LDAP_GROUP_FILTER`` (default ``(|(member={dn})(uniqueMember={dn}))``)
  or, without a group base, the entry's ``memberOf`` values; the group's ``cn`` is what the maps name;
- ``LDAP_ROLE_MAP``, ``LDAP_SITE_MAP``, ``LDAP_PROVISION``: see :mod:`lims.accounts.sso`;
- ``LDAP_TIMEOUT`` seconds (default 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lims.accounts.sso import ExternalIdentity, ProviderUnavailable
from lims.core.errors import DomainError, Forbidden

ATTRIBUTES = ["cn", "displayName", "mail", "memberOf", "uid", "sAMAccountName"]


def enabled(config: Mapping[str, Any]) -> bool:
    """Tell whether an LDAP directory is configured."""
    return bool(config.get("LDAP_URL"))


def _text(values: list[bytes] | None) -> str:
    return values[0].decode("utf-8", "replace") if values else ""


def _connect(config: Mapping[str, Any]) -> Any:
    try:
        import ldap
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DomainError("LDAP login is configured but python-ldap is not installed (pip install "
                          "'trialbank[ldap]')") from exc
    conn = ldap.initialize(config["LDAP_URL"])
    timeout = float(config.get("LDAP_TIMEOUT", 5))
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, timeout)
    conn.set_option(ldap.OPT_TIMEOUT, timeout)
    if config.get("LDAP_CA_FILE"):
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, config["LDAP_CA_FILE"])
    if not config.get("LDAP_TLS_VERIFY", True):
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_NEVER)
    conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # apply the TLS options above (must come last)
    if config.get("LDAP_START_TLS"):
        conn.start_tls_s()
    return conn


def _groups(conn: Any, dn: str, attrs: Mapping[str, list[bytes]],
            config: Mapping[str, Any]) -> tuple[str, ...]:
    import ldap
    from ldap.dn import explode_dn
    from ldap.filter import escape_filter_chars

    if config.get("LDAP_GROUP_BASE"):
        filt = config.get("LDAP_GROUP_FILTER", "(|(member={dn})(uniqueMember={dn}))").format(
            dn=escape_filter_chars(dn))
        found = conn.search_s(config["LDAP_GROUP_BASE"], ldap.SCOPE_SUBTREE, filt, ["cn"])
        return tuple(_text(a.get("cn")) for d, a in found if d)
    names = []
    for value in attrs.get("memberOf", []):
        group_dn = value.decode("utf-8", "replace")
        first = explode_dn(group_dn, notypes=True)
        names.append(first[0] if first else group_dn)
    return tuple(names)


def authenticate(username: str, password: str, config: Mapping[str, Any]) -> ExternalIdentity | None:
    """Return the directory's identity for a right password, None for an unknown user or a wrong password.

    Raise ProviderUnavailable when the directory cannot be reached, Forbidden for a disabled entry.
    """
    import ldap
    from ldap.filter import escape_filter_chars

    if not username.strip() or not password:
        return None  # an empty password would be an anonymous bind, which "succeeds"
    try:
        conn = _connect(config)
        conn.simple_bind_s(config.get("LDAP_BIND_DN", ""), config.get("LDAP_BIND_PASSWORD", ""))
        filt = config.get("LDAP_USER_FILTER",
                          "(uid={username})").format(username=escape_filter_chars(username.strip()))
        found = [(d, a) for d, a in conn.search_s(config["LDAP_USER_BASE"], ldap.SCOPE_SUBTREE, filt,
                                                  ATTRIBUTES) if d]
        if len(found) != 1:
            return None
        dn, attrs = found[0]
        if config.get("LDAP_DISABLED_FILTER") and conn.search_s(dn, ldap.SCOPE_BASE,
                                                                config["LDAP_DISABLED_FILTER"],
                                                               ["1.1"]):
            raise Forbidden(f"the directory account {username!r} is disabled; ask your IT department")
        user_conn = _connect(config)
        try:
            user_conn.simple_bind_s(dn, password)
        except ldap.INVALID_CREDENTIALS:
            return None
        finally:
            user_conn.unbind_s()
        groups = _groups(conn, dn, attrs, config)
        conn.unbind_s()
    except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR) as exc:
        raise ProviderUnavailable("the hospital directory (LDAP) cannot be reached; try again in a few "
                                  "minutes or tell your IT department") from exc
    except ldap.INVALID_CREDENTIALS as exc:
        raise ProviderUnavailable("Trialbank's directory service account was refused (LDAP_BIND_DN); "
                                  "tell your IT department") from exc
    except ldap.LDAPError as exc:
        raise ProviderUnavailable(f"the directory answered with an error ({type(exc).__name__}); "
                                  "tell your IT department") from exc
    login = _text(attrs.get("uid")) or _text(attrs.get("sAMAccountName")) or username.strip()
    return ExternalIdentity(source="ldap", external_id=dn[:500], username=login[:80],
                            full_name=(_text(attrs.get("displayName")) or _text(attrs.get("cn"))
                                       or login)[:200],
                            email=_text(attrs.get("mail")) or None, groups=groups)


def check_password(user_dn: str, password: str, config: Mapping[str, Any]) -> bool:
    """Tell whether ``password`` binds as ``user_dn`` (electronic signatures of directory users)."""
    import ldap

    if not password:
        return False
    try:
        conn = _connect(config)
        conn.simple_bind_s(user_dn, password)
        conn.unbind_s()
        return True
    except ldap.INVALID_CREDENTIALS:
        return False
    except ldap.LDAPError as exc:
        raise ProviderUnavailable(
            "the hospital directory (LDAP) cannot be reached to check the signature") from exc
