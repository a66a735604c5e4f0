"""The bytes that custody MACs cover: canonical events, checkpoints and chain-head digests (no database
here)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the "previous MAC" of a chain's first event and of the first checkpoint

_EVENT_TAG = b"trialbank custody event v1\n"
_CHECKPOINT_TAG = b"trialbank custody checkpoint v1\n"


def format_at(at: datetime) -> str:
    """Return a time as the fixed UTC text that MACs cover (microseconds, ``Z``)."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: custody times are timezone-aware (UTC)")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode("ascii")


def event_content(*, sample_id: int, seq: int, epoch: int, action: str, at: datetime, user_id: int | None,
                  site_code: str | None, from_location: str | None, to_location: str | None,
                  reason: str | None,
                  details: Any, corrects: tuple[int, int] | None) -> bytes:
    """Return an event's canonical bytes; ``corrects`` is the (sample id, seq) of the event it corrects."""
    return _canonical({
        "sample_id": sample_id, "seq": seq, "epoch": epoch, "action": action, "at": format_at(at),
        "user_id": user_id, "site_code": site_code, "from": from_location, "to": to_location,
        "reason": reason, "details": details if details is not None else {},
        "corrects": list(corrects) if corrects is not None else None,
    })


def event_mac(key: bytes, prev_mac: str, content: bytes) -> str:
    """Return HMAC-SHA256(key, previous MAC of the same chain || canonical event bytes), hex."""
    return hmac.new(key, _EVENT_TAG + prev_mac.encode("utf-8", "surrogatepass") + b"\n" + content,
                    hashlib.sha256).hexdigest()


def checkpoint_content(*, number: int, at: datetime, epoch: int, heads: int, digest: str) -> bytes:
    """Return a checkpoint's canonical bytes."""
    return _canonical({"checkpoint": number, "at": format_at(at), "epoch": epoch, "heads": heads,
                       "digest": digest})


def checkpoint_mac(key: bytes, prev_mac: str, content: bytes) -> str:
    """Return HMAC-SHA256(key, previous checkpoint's MAC || canonical checkpoint bytes), hex."""
    return hmac.new(key, _CHECKPOINT_TAG + prev_mac.encode("utf-8", "surrogatepass") + b"\n" + content,
                    hashlib.sha256).hexdigest()


class HeadDigest:
    """SHA-256 over chain heads fed in sample order, one ``sample_id seq mac`` line each."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, sample_id: int, seq: int, mac: str) -> None:
        """Feed the next head (in increasing sample id)."""
        self._hash.update(f"{sample_id} {seq} {mac}\n".encode("utf-8", "surrogatepass"))
        self.count += 1

    def hexdigest(self) -> str:
        """Return the digest of the heads fed so far."""
        return self._hash.hexdigest()


def same_mac(a: str | None, b: str | None) -> bool:
    """Compare two hex MACs in constant time (False when either is missing)."""
    return a is not None and b is not None and hmac.compare_digest(str(a).encode("utf-8", "surrogatepass"),
                                                                   str(b).encode("utf-8", "surrogatepass"))
