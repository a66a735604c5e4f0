"""Schemas of the account pages: the administration forms and self-service."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.accounts.models import AUTH_SOURCES, ROLES, SIGNATURE_MEANINGS

USERNAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$",
                           error="use letters, digits and . _ @ - (at most 80 characters)")


class NewUserSchema(Schema):
    """An administrator creates a user (a local user gets a first password to change at first login)."""

    username = fields.String(required=True, validate=USERNAME)
    full_name = fields.String(load_default="", validate=validate.Length(max=200))
    email = fields.Email(load_default=None, validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    sites = fields.List(fields.String(validate=validate.Length(max=10)), load_default=list)
    auth_source = fields.String(load_default="local", validate=validate.OneOf(AUTH_SOURCES))
    password = fields.String(load_default=None, load_only=True, validate=validate.Length(max=200))


class EditUserSchema(Schema):
    """An administrator changes a user; a change of role, sites or a reactivation is signed."""

    full_name = fields.String(load_default=None, validate=validate.Length(max=200))
    email = fields.Email(load_default=None, validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    sites = fields.List(fields.String(validate=validate.Length(max=10)), load_default=list)
    active = fields.Boolean(load_default=False)
    password = fields.String(load_default=None, load_only=True, validate=validate.Length(max=200))
    meaning = fields.String(load_default="approved", validate=validate.OneOf(SIGNATURE_MEANINGS))


class PasswordChangeSchema(Schema):
    """A user changes their own password."""

    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    confirm_password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))
