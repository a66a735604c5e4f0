"""Domain errors: raised by services, turned into messages by pages and status codes by the API."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the lab or the study was broken; the message says which and why."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to this user)."""

    status = 404


class Conflict(DomainError):
    """The change clashes with the current state: position taken, duplicate ID, stale data."""

    status = 409


class Forbidden(DomainError):
    """The user's role or site does not allow this action."""

    status = 403


class Busy(DomainError):
    """The database stayed busy (locked by other writers) through every attempt: try again shortly."""

    status = 503
    retry_after = 5  # seconds, sent as Retry-After


class ProtocolError(DomainError):
    """A protocol (study definition) file is broken: names the file, the key and the problem."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}", field=key)
        self.path = path
        self.key = key
        self.problem = problem


def integrity_message(exc: Exception) -> str:
    """Translate a database integrity error into a sentence a lab user understands."""
    text = str(getattr(exc, "orig", exc)).lower()
    rules = [
        ("uq_placement_unit_id", "that storage position already holds a sample"),
        ("placement.unit_id, placement.row", "that storage position already holds a sample"),
        ("uq_sample_accession", "a sample with that accession ID already exists"),
        ("sample.accession", "a sample with that accession ID already exists"),
        ("fk_sample_participant_id", "the participant does not belong to the sample's study"),
        ("foreign key", "the record refers to something that does not exist or belongs to another study"),
        ("uq_participant_study_id", "a participant with that study ID already exists in this study"),
        ("participant.study_id, participant.code",
         "a participant with that study ID already exists in this study"),
        ("uq_user_username", "that user name is taken"),
        ("user.username", "that user name is taken"),
        ("check", "a value is outside what the database allows"),
    ]
    for needle, message in rules:
        if needle in text:
            return message
    return "the change conflicts with data already stored"
