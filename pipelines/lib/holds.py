"""Held deliveries: a re-delivery is applied whole or held, never half-applied.

Before a re-delivery replaces what a month was built from (the bill file, the agreements, the incentive
statement, the incentive rates), it is staged inside a transaction as usual; then what it would leave is
measured against what it replaces. A delivery that cannot be read whole, that would remove a large share
of the lines or customers, or that would leave bill lines without the agreement they are billed at now,
rolls back and is recorded in audit.held_deliveries instead: the warehouse, the marts, the reports and
the published snapshot keep the delivery they had. `billrecon accept` (release) or a newer delivery of
the same key ends the hold, and so does the key's file put back to the version the month is built from.
A first delivery (nothing to replace) is never held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipelines.lib import audit
from pipelines.lib.landing import Delivery
from pipelines.lib.rejections import rule_for
from pipelines.lib.sql_models import cycles_in, load_model, run_model
from pipelines.lib.staging import StageOutcome
from pipelines.lib.warehouse import transaction
from schemas.rules import rule


@dataclass(frozen=True)
class HoldThresholds:
    """When a re-delivery is held (settings BILLRECON_HOLD_*): a drop larger than these percentages of
    the lines or customers it replaces, or more bill lines losing their agreement than allowed."""

    max_line_drop_percent: int = 20
    max_customer_drop_percent: int = 20
    max_lines_losing_agreement: int = 0


@dataclass(frozen=True)
class Figures:
    """What a month holds of one source, measured the same way before and after a delivery is staged.
    A figure that does not apply to the source is None."""

    lines: int | None = None
    customers: int | None = None
    rules: int | None = None   # agreement rules: reported, not judged (fewer rules may price every line)
    lines_losing_agreement: int | None = None
    customers_losing_agreement: int | None = None


@dataclass(frozen=True)
class Gauge:
    """How one source is measured: `before` runs on what the month holds now, `after` on what the staged
    delivery would leave (both inside the staging transaction). `lines` and `customers` name what is
    counted in messages ("… of 1,502 lines of 2026-10"), `keeps` what stays while it is held."""

    lines: str
    keeps: str
    before: Callable[[duckdb.DuckDBPyConnection], Figures]
    after: Callable[[duckdb.DuckDBPyConnection], Figures]
    customers: str = "customers"


@dataclass(frozen=True)
class Replaced:
    """The delivery a month is built from now, which a re-delivery would replace."""

    etag: str
    landed_at: datetime | None


@dataclass
class Hold:
    rule_id: str
    reason: str
    measured: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HeldDelivery:
    """A row of audit.held_deliveries, as the run, the report and `billrecon accept` show it."""

    source: str
    object_key: str
    etag: str
    bill_cycle: str | None
    rule_id: str
    reason: str
    message: str
    held_at: datetime


class _Held(Exception):
    """Raised inside the staging transaction so that it rolls back."""

    def __init__(self, hold: Hold):
        super().__init__(hold.reason)
        self.hold = hold


def replaced_delivery(con: duckdb.DuckDBPyConnection, source: str, object_key: str, bill_cycle: str | None,
                      etag: str) -> Replaced | None:
    """The other delivery the month's rows of `source` come from now, if it loaded any row: a
    delivery replacing nothing (a first one, or one after an unreadable first one) is not compared."""
    scope = "bill_cycle = $scope" if bill_cycle is not None else "object_key = $scope"
    row = con.execute(
        f"""select loads.etag, max(objects.landed_at)
            from audit.loads as loads
            left join landing.objects as objects using (object_key, etag)
            where loads.source = $source and {scope} and loads.etag <> $etag
            group by loads.etag having sum(loads.rows_loaded) > 0
            order by max(loads.loaded_at) desc limit 1""",
        {"source": source, "scope": bill_cycle if bill_cycle is not None else object_key, "etag": etag},
    ).fetchone()
    return Replaced(row[0], row[1]) if row else None


def stage_or_hold(con: duckdb.DuckDBPyConnection, delivery: Delivery, source: str, bill_cycle: str | None,
                  stage: Callable[[], StageOutcome], gauge: Gauge,
                  thresholds: HoldThresholds) -> tuple[StageOutcome | None, HeldDelivery | None]:
    """Stage `delivery` in one transaction; when it would replace rows of another delivery with
    something that cannot be trusted, roll back and hold it. A released (accepted) delivery is applied
    as it is; a delivery held already is not read again (no result). Returns the staging result (what
    was read) and the hold, if any."""
    held = open_hold(con, delivery.object_key, delivery.etag)
    if held is not None:
        return None, held
    replaced = replaced_delivery(con, source, delivery.object_key, bill_cycle, delivery.etag)
    compare = replaced is not None and not _released(con, delivery)
    try:
        with transaction(con):
            before = gauge.before(con) if compare else None
            result = stage()
            if before is not None:
                hold = judge(result, before, gauge.after(con), gauge, thresholds)
                if hold is not None:
                    raise _Held(hold)
            _end_holds(con, delivery.object_key, delivery.etag, f"replaced by ETag {delivery.etag}")
        return result, None
    except _Held as held:
        with transaction(con):
            _end_holds(con, delivery.object_key, delivery.etag, f"replaced by ETag {delivery.etag}")
            record = _record_hold(con, delivery, source, bill_cycle, gauge, replaced, result, held.hold)
        return result, record


def judge(result: StageOutcome, before: Figures, after: Figures, gauge: Gauge,
          thresholds: HoldThresholds) -> Hold | None:
    """The first reason to hold the delivery, or None: unreadable, then lines, customers, agreements."""
    measured = {"before": _figures(before), "after": _figures(after)}
    rejected = [m for m in result.members if m.status == "rejected"]
    if rejected:
        what = result.rejected or (
            f"{len(rejected):,} of {len(result.members):,} member(s) rejected, the first: "
            f"{rejected[0].member}: {rejected[0].first_error}")
        return Hold(rule_for("delivery", "unreadable"), f"it cannot be read whole ({what})", measured)
    if before.lines and after.lines is not None:
        removed = before.lines - after.lines
        if removed * 100 > before.lines * thresholds.max_line_drop_percent:
            return Hold(rule_for("delivery", "line_drop"),
                        f"it would remove {removed:,} of {before.lines:,} {gauge.lines}", measured)
    if before.customers and after.customers is not None:
        removed = before.customers - after.customers
        if removed * 100 > before.customers * thresholds.max_customer_drop_percent:
            return Hold(rule_for("delivery", "customer_drop"),
                        f"it would remove {removed:,} of {before.customers:,} {gauge.customers}", measured)
    losing = after.lines_losing_agreement or 0
    if losing > thresholds.max_lines_losing_agreement:
        return Hold(rule_for("delivery", "agreement_loss"),
                    f"it would leave {losing:,} bill lines of {after.customers_losing_agreement:,} customer(s) "
                    "without the agreement they are billed at now (they would be billed at list price)", measured)
    return None


def _figures(figures: Figures) -> dict:
    return {k: v for k, v in figures.__dict__.items() if v is not None}


def hold_message(object_key: str, etag: str, reason: str, keeps: str, replaced: Replaced | None,
                 rule_id: str) -> str:
    """One line: which delivery, why it is held, what the month keeps meanwhile, and what to do."""
    landed = f" of {replaced.landed_at:%Y-%m-%d %H:%M} UTC" if replaced and replaced.landed_at else ""
    action = rule(rule_id).action
    return (f"{object_key} (ETag {etag}) is held: {reason}; {keeps}{landed}. "
            f"{action[0].upper()}{action[1:]} (`billrecon accept --key {object_key}`).")


def _record_hold(con, delivery: Delivery, source: str, bill_cycle: str | None, gauge: Gauge, replaced: Replaced,
                 result: StageOutcome, hold: Hold) -> HeldDelivery:
    message = hold_message(delivery.object_key, delivery.etag, hold.reason, gauge.keeps, replaced, hold.rule_id)
    held_at = datetime.now(UTC)
    audit.insert_row(con, "audit.held_deliveries", {
        "source": source, "object_key": delivery.object_key, "etag": delivery.etag, "sha256": delivery.sha256,
        "bill_cycle": bill_cycle, "replaces_etag": replaced.etag, "replaces_landed_at": replaced.landed_at,
        "rule_id": hold.rule_id, "reason": hold.reason, "message": message, "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded, "rows_quarantined": result.rows_quarantined,
        "members_rejected": result.members_rejected, "first_error": result.first_error,
        "measured": json.dumps(hold.measured, sort_keys=True), "held_at": held_at})
    return HeldDelivery(source, delivery.object_key, delivery.etag, bill_cycle, hold.rule_id, hold.reason,
                        message, held_at)


def _released(con, delivery: Delivery) -> bool:
    return con.execute(
        "select count(*) from audit.held_deliveries where object_key = ? and etag = ? and released_at is not null",
        [delivery.object_key, delivery.etag]).fetchone()[0] > 0


def end_superseded_holds(con: duckdb.DuckDBPyConnection, object_key: str, etag: str) -> None:
    """The key's current delivery is the one its months are built from already: its holds on other
    deliveries are over (a file put back to the version before a held one ends that hold)."""
    with transaction(con):
        _end_holds(con, object_key, etag, f"replaced by ETag {etag}")


def _end_holds(con, object_key: str, newer_etag: str, released_by: str) -> None:
    """A newer delivery of the key supersedes its open holds, whatever becomes of the newer one."""
    con.execute(
        """update audit.held_deliveries set released_at = ?, released_by = ?
           where object_key = ? and etag <> ? and released_at is null""",
        [datetime.now(UTC), released_by, object_key, newer_etag])


_HELD_COLUMNS = "source, object_key, etag, bill_cycle, rule_id, reason, message, held_at"


def open_hold(con: duckdb.DuckDBPyConnection, object_key: str, etag: str) -> HeldDelivery | None:
    """The hold on this delivery, unless it was released."""
    row = con.execute(
        f"""select {_HELD_COLUMNS} from audit.held_deliveries
            where object_key = ? and etag = ? and released_at is null""", [object_key, etag]).fetchone()
    return HeldDelivery(*row) if row else None


def open_holds(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> list[HeldDelivery]:
    """The deliveries held from the cycle: its own files' and the agreements' (which every month reads)."""
    rows = con.execute(
        f"""select {_HELD_COLUMNS} from audit.held_deliveries
            where released_at is null and (bill_cycle = ? or bill_cycle is null)
            order by held_at, object_key""", [bill_cycle]).fetchall()
    return [HeldDelivery(*row) for row in rows]


class NothingHeld(LookupError):
    """`billrecon accept` named a delivery that is not held."""


def release(con: duckdb.DuckDBPyConnection, object_key: str, etag: str | None, released_by: str) -> HeldDelivery:
    """Release the open hold on `object_key` (and `etag`, when given): the next run applies it."""
    held = con.execute(
        f"select {_HELD_COLUMNS} from audit.held_deliveries where object_key = ? and released_at is null",
        [object_key]).fetchall()
    if not held:
        raise NothingHeld(f"no delivery of {object_key} is held; nothing was changed")
    found = [HeldDelivery(*row) for row in held if etag is None or row[2] == etag]
    if not found:
        raise NothingHeld(f"ETag {etag} of {object_key} is not held (the held delivery is ETag {held[0][2]}); "
                          "nothing was changed")
    with transaction(con):
        con.execute(
            """update audit.held_deliveries set released_at = ?, released_by = ?
               where object_key = ? and etag = ? and released_at is null""",
            [datetime.now(UTC), released_by, object_key, found[0].etag])
    return found[0]


# --- how each source is measured -------------------------------------------------------------------

def _count(sql: str, *params) -> Callable[[duckdb.DuckDBPyConnection], Figures]:
    def measure(con: duckdb.DuckDBPyConnection) -> Figures:
        lines, customers = con.execute(sql, list(params)).fetchone()
        return Figures(lines=lines, customers=customers)
    return measure


def bill_file_gauge(bill_cycle: str) -> Gauge:
    measure = _count("select count(*), count(distinct customer_id) from staging.bill_line where bill_cycle = ?",
                     bill_cycle)
    return Gauge(f"lines of {bill_cycle}", "the month keeps the delivery", measure, measure,
                 customers=f"customers of {bill_cycle}")


def statement_gauge(period: str) -> Gauge:
    measure = _count("select count(*), null from staging.incentive_statement where period = ?", period)
    return Gauge(f"statement lines of {period}", "the period keeps the statement", measure, measure)


def incentive_rates_gauge() -> Gauge:
    measure = _count("select count(*), null from staging.incentive_rate")
    return Gauge("incentive rates", "billing keeps the rates", measure, measure)


def chart_of_accounts_gauge() -> Gauge:
    measure = _count("select count(*), null from staging.chart_of_account")
    return Gauge("accounts of the chart", "the journal keeps the chart", measure, measure)


def agreements_gauge() -> Gauge:
    """Agreements are measured on the bill lines they price: the (customer, service, resource, date)
    keys that match a rule now, and, after staging, how many lines of those keys would match none."""

    def agreed_keys(con: duckdb.DuckDBPyConnection, table: str) -> None:
        # the rules as the pricing reads them, from what is staged at this point, matched to every
        # cycle's keys as core.line_agreement matches them (into a temp table: the stored one keeps
        # what the cycles were built with)
        run_model(con, "core", "customer_discount_rule")
        model = load_model("core", "line_agreement")
        con.execute(f"create or replace temp table {table} as select * from ({model.sql}) where false",
                    {"bill_cycle": ""})
        for cycle in cycles_in(con, "staging.bill_line"):
            con.execute(f"insert into {table} select * from ({model.sql})", {"bill_cycle": cycle})

    def before(con: duckdb.DuckDBPyConnection) -> Figures:
        agreed_keys(con, "agreed_line_keys")
        return Figures(rules=con.execute("select count(*) from staging.customer_discount").fetchone()[0])

    def after(con: duckdb.DuckDBPyConnection) -> Figures:
        agreed_keys(con, "agreed_line_keys_now")
        lines, customers = con.execute(
            """select count(*), count(distinct lines.customer_id)
               from staging.bill_line as lines
               semi join agreed_line_keys as agreed
                 on agreed.bill_cycle = lines.bill_cycle and agreed.customer_id = lines.customer_id
                and agreed.service_type_code = lines.service_type_code
                and agreed.resource_key = coalesce(lines.resource_type_code, '')
                and agreed.trade_date_local = lines.trade_date_local
               anti join agreed_line_keys_now as now
                 on now.bill_cycle = lines.bill_cycle and now.customer_id = lines.customer_id
                and now.service_type_code = lines.service_type_code
                and now.resource_key = coalesce(lines.resource_type_code, '')
                and now.trade_date_local = lines.trade_date_local""").fetchone()
        rules = con.execute("select count(*) from staging.customer_discount").fetchone()[0]
        con.execute("drop table agreed_line_keys")
        con.execute("drop table agreed_line_keys_now")
        return Figures(rules=rules, lines_losing_agreement=lines, customers_losing_agreement=customers)

    return Gauge("agreement rules", "billing keeps the agreements", before, after)
