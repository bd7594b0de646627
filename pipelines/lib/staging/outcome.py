"""What staging one delivery (a file) or one snapshot (a BSS API pull) did, in one shape for both:
rows read, loaded and quarantined, findings, and why a member or the whole source was rejected.
Each member's outcome is one row of audit.loads; the assets log and report the whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipelines.lib import audit

_STATUS_ORDER = ("rejected", "quarantined_rows", "warning")


@dataclass
class MemberOutcome:
    """One audit.loads row: an archive member, or a whole object or snapshot (member None)."""

    member: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    findings_count: int
    status: str   # ok | warning | quarantined_rows | rejected
    first_error: str | None


@dataclass
class StageOutcome:
    """What staging one delivery or snapshot did. `key` is the object key of a delivery or the
    path of a snapshot; `rejected` and `rejected_rule` say why nothing of it was loaded."""

    source: str
    key: str
    bill_cycle: str | None
    members: list[MemberOutcome] = field(default_factory=list)
    rejected: str | None = None
    rejected_rule: str | None = None

    @property
    def rows_read(self) -> int:
        return sum(m.rows_read for m in self.members)

    @property
    def rows_loaded(self) -> int:
        return sum(m.rows_loaded for m in self.members)

    @property
    def rows_quarantined(self) -> int:
        return sum(m.rows_quarantined for m in self.members)

    @property
    def findings_count(self) -> int:
        return sum(m.findings_count for m in self.members)

    @property
    def members_rejected(self) -> int:
        return sum(1 for m in self.members if m.status == "rejected")

    @property
    def status(self) -> str:
        """The worst status of its members (rejected, then quarantined_rows, then warning)."""
        statuses = {m.status for m in self.members}
        return next((s for s in _STATUS_ORDER if s in statuses), "ok")

    @property
    def first_error(self) -> str | None:
        return next((m.first_error for m in self.members if m.first_error), None)

    def summary(self) -> str:
        """The one line the run logs for it."""
        return (f"{self.key}: {len(self.members)} member(s), {self.rows_read} rows read, "
                f"{self.rows_loaded} loaded, {self.rows_quarantined} quarantined, {self.findings_count} findings"
                + (f"; REJECTED: {self.rejected}" if self.rejected else ""))


def record_load(con: duckdb.DuckDBPyConnection, outcome: StageOutcome, member: MemberOutcome, load_id: str,
                etag: str, sha256: str) -> None:
    """The audit.loads row of one member of `outcome` (rows read = loaded + quarantined, checked by the table)."""
    audit.insert_row(con, "audit.loads", {
        "load_id": load_id, "source": outcome.source, "object_key": outcome.key, "etag": etag, "sha256": sha256,
        "member": member.member, "bill_cycle": outcome.bill_cycle, "rows_read": member.rows_read,
        "rows_loaded": member.rows_loaded, "rows_quarantined": member.rows_quarantined,
        "findings_count": member.findings_count, "status": member.status, "first_error": member.first_error,
        "loaded_at": datetime.now(UTC)})
