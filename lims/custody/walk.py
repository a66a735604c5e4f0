"""The two walks of verification: checkpoints with the heads they sealed, and events in chain order.

Each walker takes rows one at a time and keeps only the state of the current checkpoint or chain; what it
needs from the other walk (anchored heads whose event is gone) is a dictionary bounded by the damage found.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lims.custody import chain
from lims.custody.report import CustodyReport, Problem, as_int, as_json, as_time, shown

MAX_TRACKED = 100_000  # anchored heads whose event is missing, kept to name where each chain was cut


class CheckpointWalker:
    """Check checkpoints in number order: none missing, each MAC and link, each list of heads against its
    digest."""

    def __init__(self, ring: dict[int, bytes], report: CustodyReport) -> None:
        self.ring, self.report = ring, report
        # sample id -> (sealed seq, checkpoint) with no event left
        self.missing: dict[int, tuple[int, int]] = {}
        self.expected, self.prev_mac = 1, chain.GENESIS
        self.current: Any = None
        self.digest = chain.HeadDigest()

    def row(self, r: Any) -> None:
        """Take one (checkpoint, head) row, ordered by checkpoint number then sample."""
        if self.current is None or r.number != self.current.number:
            self.finish()
            self.current, self.digest = r, chain.HeadDigest()
        if r.sample_id is not None:
            self._head(r)

    def _head(self, r: Any) -> None:
        self.digest.add(r.sample_id, r.head_seq, r.head_mac)
        sample_id, seq, number = as_int(r.sample_id), as_int(r.head_seq), r.number
        if sample_id is None or seq is None:
            return  # the digest check names the checkpoint
        if r.event_mac is None:
            known = self.missing.get(sample_id)
            if known is not None or len(self.missing) < MAX_TRACKED:
                if known is None or known[0] < seq:
                    self.missing[sample_id] = (seq, number)
            else:
                self.report.add(Problem(f"missing (deleted): checkpoint #{number} sealed the chain at this "
                                        "event",
                                        sample_id=sample_id, seq=seq))
        elif not chain.same_mac(r.event_mac, r.head_mac):
            self.report.add(Problem(f"it is not the event checkpoint #{number} sealed: its MAC changed "
                                    "(rewritten)",
                                    sample_id=sample_id, seq=seq))

    def finish(self) -> None:
        """Close the current checkpoint (call once more after the last row)."""
        r, self.current = self.current, None
        if r is None:
            return
        self.report.checkpoints += 1
        number = as_int(r.number)
        if number is None:
            self.report.add(Problem(f"malformed checkpoint number {shown(r.number)}"))
            return
        if number != self.expected:
            self.report.add(Problem(f"missing (deleted): the checkpoints jump from #{self.expected - 1} to "
                                    f"#{number}",
                                    checkpoint=self.expected))
        self._check(r, number, linked=number == self.expected)
        self.prev_mac, self.expected = r.mac, number + 1

    def _check(self, r: Any, number: int, *, linked: bool) -> None:
        at, epoch, heads = as_time(r.at), as_int(r.epoch), as_int(r.heads)
        if at is None or epoch is None or heads is None:
            self.report.add(Problem(f"malformed: time {shown(r.at)}, epoch {shown(r.epoch)}, heads "
                                    f"{shown(r.heads)}",
                                    checkpoint=number))
            return
        key = self.ring.get(epoch)
        if key is None:
            self.report.add(Problem(f"sealed with epoch {epoch}, for which the key file has no key",
                                    checkpoint=number))
        else:
            content = chain.checkpoint_content(number=number, at=at, epoch=epoch, heads=heads,
                                               digest=str(r.digest))
            if not chain.same_mac(chain.checkpoint_mac(key, str(r.prev_mac), content), r.mac):
                self.report.add(Problem("altered: its MAC does not match its content", checkpoint=number))
            elif linked and not chain.same_mac(r.prev_mac, self.prev_mac):
                self.report.add(Problem(f"out of place: it does not follow checkpoint #{number - 1}",
                                        checkpoint=number))
        if heads != self.digest.count or not chain.same_mac(r.digest, self.digest.hexdigest()):
            self.report.add(Problem(f"the chain heads it sealed were altered ({heads} sealed, "
                                    f"{self.digest.count} found, or their content changed)",
                                    checkpoint=number))


class ChainWalker:
    """Check events in (sample, seq) order: each chain starts at #1, has no gap, each MAC and link holds, and
    it ends where its head row and the newest checkpoint covering it say."""

    def __init__(self, ring: dict[int, bytes], report: CustodyReport,
                 anchored: dict[int, tuple[int, int]]) -> None:
        self.ring, self.report, self.anchored = ring, report, anchored
        self.unverifiable: Counter[Any] = Counter()
        self.sample_id: int | None = None
        self.expected, self.last, self.prev = 1, 0, chain.GENESIS
        self.head: tuple[Any, Any, Any] = (None, None, None)

    def row(self, r: Any) -> None:
        """Take one event row (with its head row and the event it corrects joined)."""
        self.report.events += 1
        sample_id, seq = as_int(r.sample_id), as_int(r.seq)
        if sample_id is None or seq is None:
            self.report.add(Problem(f"malformed: sample {shown(r.sample_id)} and seq {shown(r.seq)} must be "
                                    "numbers", event_id=as_int(r.id)))
            return
        if sample_id != self.sample_id:
            self.finish()
            self.report.chains += 1
            self.sample_id, self.expected, self.last, self.prev = sample_id, 1, 0, chain.GENESIS
            self.head = (r.has_head, r.head_seq, r.head_mac)
        if seq < self.expected:
            self.report.add(Problem("a second event with this number (duplicate)", sample_id, seq,
                                    as_int(r.id)))
            return
        if seq > self.expected:
            self.report.add(Problem(f"missing (deleted): the chain jumps from #{self.expected - 1} to #{seq}",
                                    sample_id, self.expected))
        self._check(r, sample_id, seq, linked=seq == self.expected)
        self.prev, self.expected, self.last = r.mac, seq + 1, seq

    def _check(self, r: Any, sample_id: int, seq: int, *, linked: bool) -> None:
        at, (is_json, details), epoch = as_time(r.at), as_json(r.details), as_int(r.epoch)
        bad = (f"its time {shown(r.at)} is not a timestamp" if at is None
               else f"its details are not JSON: {shown(r.details)}" if not is_json
               else f"its key epoch {shown(r.epoch)} is not a number" if epoch is None else None)
        if bad or at is None or epoch is None:
            self.report.add(Problem(f"malformed: {bad}", sample_id, seq, as_int(r.id)))
            return
        key = self.ring.get(epoch)
        if key is None:
            self.unverifiable[epoch] += 1
            return
        content = chain.event_content(
            sample_id=sample_id, seq=seq, epoch=epoch, action=r.action, at=at, user_id=r.user_id,
            site_code=r.site_code, from_location=r.from_location, to_location=r.to_location, reason=r.reason,
            details=details, corrects=(r.fixed_sample, r.fixed_seq) if r.corrects_id is not None else None)
        if not chain.same_mac(chain.event_mac(key, str(r.prev_mac), content), r.mac):
            lost = (f" (the event it corrects, id {r.corrects_id}, is gone)"
                    if r.corrects_id is not None and r.fixed_sample is None else "")
            self.report.add(Problem("altered: its MAC does not match its content (edited, forged, or "
                                    f"re-chained without the key){lost}", sample_id, seq, as_int(r.id)))
        elif linked and not chain.same_mac(r.prev_mac, self.prev):
            self.report.add(Problem(f"out of place: a genuine event that does not follow event #{seq - 1} "
                                    "(reordered, moved, or the event before it replaced)", sample_id, seq,
                                    as_int(r.id)))

    def finish(self) -> None:
        """Close the current chain against its checkpoints and head row (call once more after the last
        row)."""
        sample_id, last = self.sample_id, self.last
        if sample_id is None:
            return
        self.sample_id = None
        sealed = self.anchored.pop(sample_id, None)
        if sealed is not None and sealed[0] > last:
            self.report.add(Problem(f"missing (deleted): checkpoint #{sealed[1]} sealed this chain at "
                                    f"#{sealed[0]} but it stops at #{last} (truncated or rewound)", sample_id,
                                    last + 1))
            return
        has_head, head_seq, head_mac = self.head
        if not has_head:
            self.report.add(Problem("the chain's head row is missing (deleted)", sample_id, last))
        elif as_int(head_seq) is None or head_seq > last:
            self.report.add(Problem(f"missing (deleted): the chain's head row says #{shown(head_seq)} but it "
                                    f"stops at #{last}", sample_id, last + 1))
        elif head_seq < last:
            self.report.add(Problem(f"the chain's head row was rewound to #{head_seq} though events go on",
                                    sample_id, head_seq + 1))
        elif not chain.same_mac(head_mac, self.prev):
            self.report.add(Problem("the chain's head row does not hold this last event's MAC (altered)",
                                    sample_id, last))
