"""Reconciliation end to end against the planted ground truth (docs/reconciliation.md).

Worlds with anomalies planted (sandbox/anomalies.py) are written as files to the local S3 server,
their BSS partner API is served by the emulator, and every month, the closed ones and then the open
one, runs through `run_cycle` with the real resources. The findings must be exactly the ground truth,
compared on (rule_id, bill_cycle, customer_id, reference, amount rounded half-up to the cent); a
world with nothing planted must leave no finding, no audit finding and no quarantined row.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import openpyxl
import pytest

from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.runner import CycleRun, run_cycle
from reports.formatting import format_money
from sandbox.anomalies import RULE_IDS
from sandbox.bss import BssEmulator
from sandbox.objectstore import make_s3_client, upload_tree
from sandbox.world import World, WorldConfig, generate_world
from sandbox.writer import write_world
from schemas.rules import rule

SEEDS = (1, 2, 3)
PLANTED = 2
CENT = Decimal("0.01")
# the rules whose inputs are the partner's files only: they still work without the BSS API
FILE_FED_RULES = {"BILL.AMOUNT_DUE_IDENTITY", "BILL.PAYMENT_IDENTITY", "DISCOUNT.NEGATIVE_MARGIN",
                  "AGREEMENT.OVERLAP", "AGREEMENT.EXPIRED"}
API_FED_MARTS = ("marts.partner_bill_tieout", "marts.customer_bill_tieout", "marts.budget_status",
                 "marts.coupon_status")
FINDING_COLUMNS = ["rule_id", "severity", "bill_cycle", "customer_id", "reference", "expected", "actual",
                   "difference_amount", "message", "check_area"]


def world_config(seed: int, anomalies: int) -> WorldConfig:
    return WorldConfig(seed=seed, anomalies=anomalies, customers=16, resellers=2, closed_months=2,
                       lines_per_month=1500, usage_export_days=3)


@dataclass
class Reconciled:
    world: World
    warehouse: WarehouseResource
    runs: list[CycleRun]
    resources: dict

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(self.warehouse.path, read_only=True)

    def query(self, sql: str, parameters: list | None = None) -> list[tuple]:
        con = self.connect()
        try:
            return con.execute(sql, parameters or []).fetchall()
        finally:
            con.close()


def cents(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount.quantize(CENT, rounding=ROUND_HALF_UP) + 0)


def as_findings(records: list[dict]) -> set[tuple]:
    return {(r["rule_id"], r["bill_cycle"], r["customer_id"], r["reference"], r["amount"]) for r in records}


def found(reconciled: Reconciled) -> set[tuple]:
    rows = reconciled.query("select rule_id, bill_cycle, customer_id, reference, difference_amount "
                            "from marts.reconciliation_findings")
    assert len(rows) == len(set(rows)), "every finding is reported once"
    return {(*row[:4], cents(row[4])) for row in rows}


@pytest.fixture(scope="module")
def reconciled(s3_server, tmp_path_factory):
    """Reconcile a world once per module: (seed, anomalies, with the BSS API or not) → Reconciled. Each
    world's emulator keeps serving until the module ends, so a test can run a cycle again."""
    cache: dict[tuple, Reconciled] = {}
    with contextlib.ExitStack() as emulators:

        def get(seed: int, anomalies: int, api: bool = True) -> Reconciled:
            key = (seed, anomalies, api)
            if key in cache:
                return cache[key]
            world = generate_world(world_config(seed, anomalies))
            world.api_data.prepare()
            name = f"reconcile-{seed}-{anomalies}-{'api' if api else 'files'}"
            root = tmp_path_factory.mktemp(name)
            write_world(world, root / "files")
            upload_tree(make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key), name,
                        root / "files")
            warehouse = WarehouseResource(path=str(root / "wh" / "billrecon.duckdb"))
            bss_api = BssApiResource()
            if api:
                emulator = emulators.enter_context(BssEmulator(world, throttle=False))
                bss_api = BssApiResource(endpoint=emulator.endpoint_url, access_key=emulator.access_key,
                                         secret_key=emulator.secret_key, domain_id=emulator.domain_id)
            resources = {
                "object_store": ObjectStoreResource(endpoint_url=s3_server.endpoint_url, bucket=name,
                                                    access_key=s3_server.access_key,
                                                    secret_key=s3_server.secret_key),
                "warehouse": warehouse,
                "reports": ReportsResource(out_dir=str(root / "reports")),
                "bss_api": bss_api,
            }
            runs = [run_cycle(month, resources) for month in world.months]
            cache[key] = Reconciled(world, warehouse, runs, resources)
            return cache[key]

        yield get


def assert_every_run_succeeded(reconciled: Reconciled) -> None:
    for run in reconciled.runs:
        assert run.success, f"{run.bill_cycle}: {run.failure}"


# ------------------------------------------------------------------------------------------ the ground truth

@pytest.mark.parametrize("seed", SEEDS)
def test_the_findings_of_a_planted_world_are_exactly_its_ground_truth(reconciled, seed):
    result = reconciled(seed, PLANTED)
    assert_every_run_succeeded(result)
    truth = result.world.ground_truth
    assert Counter(r["rule_id"] for r in truth) == {rule_id: PLANTED for rule_id in RULE_IDS}, \
        "every kind of anomaly is planted, so every rule is exercised"
    got = found(result)
    assert got == as_findings(truth), (f"not planted: {sorted(got - as_findings(truth), key=str)}; "
                                       f"not found: {sorted(as_findings(truth) - got, key=str)}")


@pytest.mark.parametrize("seed", SEEDS)
def test_a_clean_world_leaves_no_finding_no_audit_finding_and_no_quarantined_row(reconciled, seed):
    result = reconciled(seed, 0)
    assert_every_run_succeeded(result)
    assert result.world.ground_truth == []
    assert result.query("select * from marts.reconciliation_findings") == []
    assert result.query("select * from audit.findings") == []
    assert result.query("select * from audit.quarantine") == []
    # the marts were really built: every closed month ties out, the statements match
    statuses = dict(result.query("select status, count(*) from marts.partner_bill_tieout group by status"))
    assert statuses == {"matched": 4 * len(result.world.closed_months), "missing_in_file": 4}
    incentive = {status for (status,) in result.query("select distinct comparison_status "
                                                      "from marts.incentive_reconciliation")}
    assert incentive <= {"matched", "not_eligible"} and "matched" in incentive
    assert result.query("select count(*) from marts.budget_status where bill_cycle = ?",
                        [result.world.open_month])[0][0] == len(result.world.api_data.budgets)
    assert result.query("select count(*) from marts.coupon_status")[0][0] == len(result.world.api_data.coupons)


# ------------------------------------------------------------------------------------------ what a finding says

def test_every_finding_has_its_rule_severity_area_and_a_message_naming_its_amount(reconciled):
    result = reconciled(1, PLANTED)
    con = result.connect()
    try:
        columns = [d[0] for d in con.execute("select * from marts.reconciliation_findings limit 0").description]
        rows = con.execute("select * from marts.reconciliation_findings").fetchall()
        discount_audit = con.execute("select * from marts.discount_audit").fetchall()
    finally:
        con.close()
    assert columns == FINDING_COLUMNS
    for row in map(lambda r: dict(zip(columns, r)), rows):
        info = rule(row["rule_id"])
        assert row["severity"] == info.severity and row["check_area"] == info.area
        assert row["message"].startswith(info.title) and row["message"].endswith(info.action), row["message"]
        if row["difference_amount"] is not None:
            assert abs(row["difference_amount"]).quantize(CENT, rounding=ROUND_HALF_UP).to_eng_string() in \
                row["message"], row["message"]
            expected, actual = row["expected"] or 0, row["actual"] or 0
            assert row["difference_amount"] == actual - expected, row
    assert sorted(discount_audit, key=repr) == sorted(
        (tuple(r) for r in rows if r[columns.index("check_area")] == "discount"), key=repr)


def test_every_rule_id_of_a_planted_world_joins_to_the_rules_catalogue_in_the_warehouse(reconciled):
    result = reconciled(1, PLANTED)
    recorded = result.query("""select rule_id, count(*) from (
                                   select rule_id from audit.findings
                                   union all select rule_id from audit.quarantine
                                   union all select rule_id from audit.held_deliveries
                                   union all select rule_id from marts.reconciliation_findings)
                               group by all""")
    assert {rule_id for rule_id, _ in recorded} >= set(RULE_IDS)
    joined = result.query("""select f.rule_id, r.severity, r.area, r.action from marts.reconciliation_findings f
                             join audit.rules r using (rule_id)""")
    assert len(joined) == result.query("select count(*) from marts.reconciliation_findings")[0][0] > 0
    assert all((severity, area, action) == (rule(rule_id).severity, rule(rule_id).area, rule(rule_id).action)
               for rule_id, severity, area, action in joined)
    catalogue = {rule_id for (rule_id,) in result.query("select rule_id from audit.rules")}
    assert {rule_id for rule_id, _ in recorded} - catalogue == set()


def test_the_open_month_shows_the_api_side_of_its_tie_out_but_raises_no_tie_out_finding(reconciled):
    result = reconciled(1, PLANTED)
    open_month = result.world.open_month
    rows = result.query("select component, file_amount, api_amount, status, bill_file_present "
                        "from marts.partner_bill_tieout where bill_cycle = ? order by component_order", [open_month])
    assert rows == [(c, None, Decimal(0), "missing_in_file", False)
                    for c in ("consumption", "refunds", "adjustments", "amount_due")]
    by_area = dict(result.query("select check_area, count(*) from marts.reconciliation_findings "
                                "where bill_cycle = ? group by check_area", [open_month]))
    assert by_area == {"budget": PLANTED}


def test_incentives_of_the_newest_closed_cycle_are_frozen_until_its_bill_is_paid(reconciled):
    result = reconciled(1, PLANTED)
    older, newest = result.world.closed_months
    rows = result.query("select period, comparison_status, status, frozen_reason from marts.incentive_reconciliation")
    # the reason quotes the sources: the newest month's own bill, the credit reading and the statement's status
    bill = result.world.api_data.partner_bill(newest)["initial_amount_due"]
    due = Decimal(result.world.api_data.consumption_quota["due_amount"])
    (reading_date,) = result.query("select max(snapshot_date) from staging.api_partner_credit")[0]
    reason = (f"the partner bill of {newest} (amount due USD {bill.quantize(CENT, ROUND_HALF_UP):,}) was not paid "
              f"on {reading_date}: the partner credit showed USD {due.quantize(CENT, ROUND_HALF_UP):,} due that day, "
              "and the statement says Confirmed")
    compared = {"matched", "mismatch", "missing_in_statement", "extra_in_statement"}
    for period, comparison, status, frozen_reason in rows:
        if period == newest:
            assert frozen_reason == reason
            assert status == ("frozen" if comparison in compared else comparison)
        else:   # the older month's statement says Paid
            assert (status, frozen_reason) == (comparison, None)
    # frozen or not, the planted incentive anomalies of both periods are reported
    planted = {(r["bill_cycle"], r["reference"]) for r in result.world.ground_truth
               if r["rule_id"].startswith("INCENTIVE.")}
    assert {cycle for cycle, _ in planted} <= {older, newest}
    reported = set(result.query("select bill_cycle, reference from marts.reconciliation_findings "
                                "where check_area = 'incentive'"))
    assert reported == planted


RECONCILIATION_MARTS = ("marts.reconciliation_findings", "marts.discount_audit", "marts.partner_bill_tieout",
                        "marts.customer_bill_tieout", "marts.incentive_reconciliation", "marts.budget_status",
                        "marts.coupon_status")


def test_running_a_closed_cycle_again_gives_the_same_marts(reconciled):
    result = reconciled(2, PLANTED)

    def marts() -> dict[str, list[tuple]]:
        # a partition replaced by delete-then-insert moves to the end of its table: compare as sets of rows
        return {table: sorted(result.query(f"select * from {table}"), key=repr) for table in RECONCILIATION_MARTS}

    before = marts()
    assert before["marts.reconciliation_findings"] and before["marts.partner_bill_tieout"]
    rerun = run_cycle(result.world.closed_months[0], result.resources)
    assert rerun.success, rerun.failure
    assert marts() == before


# ------------------------------------------------------------------------------------------ without the BSS API

def test_without_the_bss_api_the_file_fed_rules_still_find_their_anomalies(reconciled):
    result = reconciled(1, PLANTED, api=False)
    assert_every_run_succeeded(result)
    for table in API_FED_MARTS:
        assert result.query(f"select count(*) from {table}")[0][0] == 0, table
    truth = {f for f in as_findings(result.world.ground_truth) if f[0] in FILE_FED_RULES}
    assert len(truth) == PLANTED * len(FILE_FED_RULES)
    assert found(result) == truth
    # incentives: the statement beside the computed performance, not judged
    statuses = {status for (status,) in result.query("select distinct status from marts.incentive_reconciliation")}
    assert statuses == {"policy_unknown"}
    assert result.query("select count(*) from audit.quarantine")[0][0] == 0


# ------------------------------------------------------------------------------------------ the verdict

# The findings a cycle's pack judges by: the cycle's, those of no cycle, and the open month's budget
# findings (docs/month_close_pack.md), counted here straight from the warehouse.
PACK_FINDINGS = """from marts.reconciliation_findings where (bill_cycle = ? or bill_cycle is null
    or (check_area = 'budget' and bill_cycle in (select bill_cycle from marts.budget_status)))"""


def pack_verdict(result: Reconciled, month: str) -> tuple[str, str]:
    """The verdict headline of the month's page and the first cell of its workbook's Summary."""
    folder = result.resources["reports"].cycle_dir(month)
    html = (folder / f"month_close_{month}.html").read_text(encoding="utf-8")
    page = re.search(r'<p class="headline">([^<]*)</p>', html).group(1)
    summary = openpyxl.load_workbook(folder / f"month_close_{month}.xlsx", read_only=True)["Summary"]
    return page, summary["A1"].value


def test_each_pack_opens_with_the_verdict_the_warehouse_gives(reconciled):
    result = reconciled(1, PLANTED)
    open_month = result.world.open_month
    assert pack_verdict(result, open_month) == (
        (f"{open_month} cannot be closed yet: its bill file has not been delivered.",) * 2)
    # A closed month's pack counts the findings of no cycle and the open month's budget findings as
    # they stood when it was rendered: run it again now, after the open month, to compare with today.
    month = result.world.closed_months[-1]
    rerun = run_cycle(month, result.resources)
    assert rerun.success, rerun.failure
    errors, at_stake = result.query(f"select count(*), coalesce(sum(abs(difference_amount)), 0) "
                                    f"{PACK_FINDINGS} and severity = 'error'", [month])[0]
    assert errors > 1  # two of every kind are planted
    headline = f"{month} is not ready to close: {errors:,} findings to resolve, USD {format_money(at_stake)} at stake."
    assert pack_verdict(result, month) == (headline, headline)
    clean = reconciled(1, 0)
    for month in clean.world.closed_months:
        assert pack_verdict(clean, month) == ((f"{month} is ready to close.",) * 2)
