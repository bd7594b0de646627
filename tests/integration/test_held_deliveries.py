"""A re-delivery that cannot be trusted is held, never half-applied: the closed month stays exactly as
it was (warehouse, marts, published snapshot), the run and the pack say so, `billrecon accept` or a
newer delivery releases it. Each case runs the real pipeline on files in an inbox folder or a bucket."""

import json
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from billrecon.cli import main
from billrecon.commands import EXIT_HELD, progress_line
from pipelines.lib.object_store import file_sha256
from pipelines.partitions import partition_key
from pipelines.resources import WarehouseResource
from pipelines.runner import all_assets, run_cycle
from tests.fixtures.bill_files import good_row, member_csv, write_archive
from tests.integration.conftest import pipeline_resources
from tests.integration.test_bad_input import _inbox

CYCLE = "2026-09"
KEY = "customerBill/customerBill_202609.tar.gz"
AGREEMENTS_KEY = "agreements/customer_discounts.csv"
AGREEMENTS_HEADER = "customer_id,service_type_code,resource_type_code,discount_rate,valid_from,valid_to\n"
MEMBER = "customerBill_202609_0001.csv"
FOUR_LINES = [good_row(trade_id="A1"), good_row(trade_id="A2"), good_row(trade_id="A3", customer_id="cust-2"),
              good_row(trade_id="A4", customer_id="cust-3")]


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """`billrecon run` writes its options into the environment: restore it after the test."""
    for name in ("BILLRECON_INBOX_DIR", "BILLRECON_WAREHOUSE", "BILLRECON_REPORTS_DIR", "BILLRECON_S3_ENDPOINT",
                 "BILLRECON_BSS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BILLRECON_WAREHOUSE", str(tmp_path / "wh" / "billrecon.duckdb"))
    monkeypatch.setenv("BILLRECON_REPORTS_DIR", str(tmp_path / "reports"))


def _run(resources):
    outcome = run_cycle(CYCLE, resources)
    assert outcome.success, outcome.failure
    return outcome


def _cli_run(inbox, capsys) -> tuple[int, str]:
    code = main(["run", "--month", CYCLE, "--inbox", str(inbox)])
    return code, capsys.readouterr().out


def _query(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _month(path) -> dict:
    """Every row the month is made of: its marts, its staged lines, and what audit.loads says of them."""
    tables = [t for (t,) in _query(path, """select table_schema || '.' || table_name from information_schema.tables
                                            where table_schema = 'marts' order by 1""")]
    month = {t: _query(path, f"select * from {t} order by all") for t in tables}
    month["staging.bill_line"] = _query(path, "select * exclude (load_id) from staging.bill_line order by all")
    month["staging.customer_discount"] = _query(path, "select * exclude (load_id) from staging.customer_discount "
                                                      "order by all")
    month["audit.loads"] = _query(path, "select * exclude (load_id, loaded_at) from audit.loads order by all")
    month["audit.restatement_line"] = _query(path, "select * exclude (restated_at) from audit.restatement_line "
                                                   "order by all")
    return month


def _held(path):
    return _query(path, """select object_key, rule_id, reason, rows_read, rows_loaded, rows_quarantined,
                                  members_rejected, released_by is not null
                           from audit.held_deliveries order by held_at""")


def test_a_truncated_bill_redelivery_is_held_and_the_closed_month_stays_as_it_was(tmp_path, capsys, cli_env):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    resources = pipeline_resources(tmp_path, inbox=inbox)
    warehouse, published = resources["warehouse"].path, resources["warehouse"].published
    assert _cli_run(inbox, capsys)[0] == 0
    before, published_before = _month(warehouse), _month(published)
    good_landed = _query(warehouse, "select landed_at from landing.objects where object_key = ?", [KEY])[0][0]

    # the re-delivery is cut short: half of the archive's bytes
    archive = inbox / KEY
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    code, out = _cli_run(inbox, capsys)

    assert code == EXIT_HELD
    (line,) = [line for line in out.splitlines() if line.startswith("HELD: ")]
    etag = _query(warehouse, "select etag from landing.objects where object_key = ? order by landed_at desc",
                  [KEY])[0][0]
    assert line.startswith(f"HELD: {KEY} (ETag {etag}) is held: it cannot be read whole (")
    assert f"the month keeps the delivery of {good_landed:%Y-%m-%d %H:%M} UTC" in line
    assert line.endswith(f"(`billrecon accept --key {KEY}`).")
    ((key, rule_id, reason, *figures),) = _held(warehouse)
    assert (key, rule_id, figures) == (KEY, "HOLD.UNREADABLE", [0, 0, 0, 1, False])
    assert reason.startswith("it cannot be read whole (not a readable gzip tar archive") and reason in line
    # nothing of the month changed: not its marts, not its lines, not the published snapshot
    assert _month(warehouse) == before
    assert _month(published) == published_before
    assert _query(published, "select rule_id from audit.held_deliveries") == [("HOLD.UNREADABLE",)]
    html = (tmp_path / "reports" / CYCLE / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    assert 'id="held"' in html and f"{KEY} (ETag {etag}) is held" in html

    # the next nightly run says it again, without reading the file again
    code, out = _cli_run(inbox, capsys)
    assert code == EXIT_HELD and out.count("HELD: ") == 1
    assert len(_held(warehouse)) == 1 and _month(warehouse) == before

    # accepted: the next run applies what could be read (nothing), and the restatement shows it
    assert main(["accept", "--key", KEY, "--etag", etag]) == 0
    assert f"released {KEY} (ETag {etag})" in capsys.readouterr().out
    code, out = _cli_run(inbox, capsys)
    assert code == 0 and "HELD: " not in out
    assert _query(warehouse, "select count(*) from staging.bill_line") == [(0,)]
    assert _query(warehouse, """select customer_id, lines_added, lines_removed, amount_due_delta from marts.restatement
                                order by customer_id""") == [
        ("cust-1", 0, 2, Decimal("-18")), ("cust-2", 0, 1, Decimal("-9")), ("cust-3", 0, 1, Decimal("-9"))]
    assert _held(warehouse)[0][-1] is True
    # nothing is held any more: accepting again says so and changes nothing
    assert main(["accept", "--key", KEY]) == 2
    assert "no delivery of customerBill/customerBill_202609.tar.gz is held" in capsys.readouterr().err


def test_the_good_file_put_back_ends_the_hold_without_accepting_the_bad_one(tmp_path, capsys, cli_env):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    warehouse = pipeline_resources(tmp_path, inbox=inbox)["warehouse"].path
    assert _cli_run(inbox, capsys)[0] == 0
    before = _month(warehouse)
    archive = inbox / KEY
    good = archive.read_bytes()
    good_etag = _query(warehouse, "select etag from landing.objects where object_key = ?", [KEY])[0][0]
    archive.write_bytes(good[: len(good) // 2])
    assert _cli_run(inbox, capsys)[0] == EXIT_HELD

    # the sender (or an operator) puts the file back as it was: the bucket holds what the month is built from
    archive.write_bytes(good)
    code, out = _cli_run(inbox, capsys)

    assert code == 0 and "HELD: " not in out
    assert _query(warehouse, "select rule_id, released_by from audit.held_deliveries") == [
        ("HOLD.UNREADABLE", f"replaced by ETag {good_etag}")]
    assert _query(warehouse, "select etag from landing.objects where object_key = ? order by landed_at desc",
                  [KEY])[0][0] == good_etag
    # the month is as it was; only the bill file's landing time is the time it came back
    after = _month(warehouse)
    assert {t: rows for t, rows in after.items() if t != "marts.data_quality"} == \
        {t: rows for t, rows in before.items() if t != "marts.data_quality"}
    assert _query(warehouse, "select * exclude (landed_at) from marts.data_quality order by all") == [
        row[:10] + row[11:] for row in before["marts.data_quality"]]
    assert main(["accept", "--key", KEY]) == 2  # nothing is left to accept
    assert "no delivery of customerBill/customerBill_202609.tar.gz is held" in capsys.readouterr().err


def test_a_file_put_back_to_an_earlier_version_is_applied_again(tmp_path):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    resources = pipeline_resources(tmp_path, inbox=inbox)
    warehouse = resources["warehouse"].path
    _run(resources)
    first = _query(warehouse, "select * exclude (load_id) from staging.bill_line order by all")
    archive = inbox / KEY
    original = archive.read_bytes()

    # a corrected re-delivery (A4 billed 18 instead of 9) is applied ...
    write_archive(archive, {MEMBER: member_csv([
        *FOUR_LINES[:3], good_row(trade_id="A4", customer_id="cust-3", official_amount="20", discount_amount="2",
                                  amount_due="18", credit_amount="18")])})
    _run(resources)
    assert _query(warehouse, "select sum(amount_due) from staging.bill_line") == [(Decimal("45"),)]

    # ... then withdrawn: the original comes back, and the month is made of it again, as a restatement
    archive.write_bytes(original)
    outcome = _run(resources)

    assert "stg_bill_lines:no_held_delivery" not in outcome.failed_checks
    assert _query(warehouse, "select * exclude (load_id) from staging.bill_line order by all") == first
    assert _query(warehouse, "select sum(amount_due) from marts.customer_monthly_expenditure") == [(Decimal("36"),)]
    assert _query(warehouse, "select trade_id, change, amount_due_delta from audit.restatement_line "
                             "order by restated_at desc limit 1") == [("A4", "changed", Decimal("-9"))]
    (etag,), = _query(warehouse, "select distinct etag from audit.loads where source = 'customerBill'")
    assert _query(warehouse, "select etag from landing.objects where object_key = ? order by landed_at desc",
                  [KEY])[0] == (etag,)
    assert _query(warehouse, "select count(*) from landing.objects where object_key = ?", [KEY]) == [(2,)]


def test_a_redelivery_dropping_most_lines_is_held_until_a_newer_good_one_replaces_it(tmp_path):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    resources = pipeline_resources(tmp_path, inbox=inbox)
    warehouse = resources["warehouse"].path
    _run(resources)
    before = _month(warehouse)

    write_archive(inbox / KEY, {MEMBER: member_csv(FOUR_LINES[:1])})
    result = dg.materialize(all_assets(), partition_key=partition_key(CYCLE), resources=resources)
    assert result.success
    assert _held(warehouse) == [(KEY, "HOLD.LINE_DROP", "it would remove 3 of 4 lines of 2026-09", 1, 1, 0, 0, False)]
    # Dagster states it in the asset's metadata and a failed warning check, with the same line
    (message,), = _query(warehouse, "select message from audit.held_deliveries")
    metadata = result.asset_materializations_for_node("stg_bill_lines")[0].metadata
    assert metadata["held"].value == message
    # what was read of the held delivery, under the keys every staging asset reports (API ones too)
    assert metadata["object_key"].value == KEY
    assert metadata["staged"].value == f"{KEY}: 1 member(s), 1 rows read, 1 loaded, 0 quarantined, 0 findings"
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_held_delivery"
                and e.asset_key.to_user_string() == "stg_bill_lines"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["rule_id"].value == "HOLD.LINE_DROP"
    measured = json.loads(_query(warehouse, "select measured from audit.held_deliveries")[0][0])
    assert measured == {"before": {"lines": 4, "customers": 3}, "after": {"lines": 1, "customers": 1}}
    assert _month(warehouse) == before

    # a newer delivery that keeps the lines (one corrected) is applied, and ends the hold
    write_archive(inbox / KEY, {MEMBER: member_csv([
        *FOUR_LINES[:3], good_row(trade_id="A4", customer_id="cust-3", official_amount="20", discount_amount="2",
                                  amount_due="18", credit_amount="18")])})
    outcome = _run(resources)
    assert "stg_bill_lines:no_held_delivery" not in outcome.failed_checks
    newest = _query(warehouse, "select etag from landing.objects where object_key = ? order by landed_at desc",
                    [KEY])[0][0]
    assert _query(warehouse, "select released_by from audit.held_deliveries") == [(f"replaced by ETag {newest}",)]
    assert _query(warehouse, "select trade_id, change, amount_due_delta from audit.restatement_line") == [
        ("A4", "changed", Decimal("9"))]
    assert _query(warehouse, "select sum(amount_due) from marts.customer_monthly_expenditure") == [(Decimal("45"),)]
    # counts add up: audit.loads holds the applied delivery only
    assert _query(warehouse, "select etag, sum(rows_read), sum(rows_loaded) from audit.loads "
                             "where source = 'customerBill' group by 1") == [(newest, 4, 4)]


def test_a_redelivery_losing_a_customer_is_held_and_the_threshold_is_a_setting(tmp_path):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    resources = pipeline_resources(tmp_path, inbox=inbox)
    warehouse = resources["warehouse"].path
    _run(resources)
    # the same number of lines, but cust-3's line became one of cust-1's: 1 of 3 customers gone (33 %)
    write_archive(inbox / KEY, {MEMBER: member_csv([*FOUR_LINES[:3], good_row(trade_id="A5")])})
    _run(resources)
    assert _held(warehouse)[0][1:3] == ("HOLD.CUSTOMER_DROP", "it would remove 1 of 3 customers of 2026-09")
    assert _query(warehouse, "select count(*) from staging.bill_line where customer_id = 'cust-3'") == [(1,)]

    # with a looser threshold (BILLRECON_HOLD_MAX_CUSTOMER_DROP_PERCENT=40) a newer such delivery is applied
    write_archive(inbox / KEY, {MEMBER: member_csv([*FOUR_LINES[:3], good_row(trade_id="A5", resource_id="r2")])})
    loose = {**resources, "warehouse": WarehouseResource(path=warehouse, hold_max_customer_drop_percent=40)}
    outcome = _run(loose)
    assert "stg_bill_lines:no_held_delivery" not in outcome.failed_checks
    assert _query(warehouse, "select count(*) from staging.bill_line where customer_id = 'cust-3'") == [(0,)]


def test_an_unreadable_first_delivery_is_not_held_and_loads_nothing(tmp_path):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    archive = inbox / KEY
    archive.write_bytes(archive.read_bytes()[:100])
    resources = pipeline_resources(tmp_path, inbox=inbox)
    outcome = _run(resources)
    warehouse = resources["warehouse"].path
    assert "stg_bill_lines:no_held_delivery" not in outcome.failed_checks
    assert _held(warehouse) == []
    assert _query(warehouse, "select count(*) from staging.bill_line") == [(0,)]
    assert _query(warehouse, "select status, rows_loaded from audit.loads where source = 'customerBill'") == [
        ("rejected", 0)]


def _agreements(inbox, text: str) -> None:
    (inbox / AGREEMENTS_KEY).write_text(text, encoding="utf-8")


def test_an_unusable_agreements_redelivery_does_not_reprice_a_closed_month(tmp_path, capsys, cli_env):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    _agreements(inbox, AGREEMENTS_HEADER + "*,*,*,0.05,2026-01-01,\ncust-1,*,*,0.2,2026-01-01,\n")
    resources = pipeline_resources(tmp_path, inbox=inbox)
    warehouse = resources["warehouse"].path
    assert _cli_run(inbox, capsys)[0] == 0
    before = _month(warehouse)
    charged = _query(warehouse, "select sum(customer_charge_amount) from marts.customer_monthly_expenditure")
    assert charged == [(Decimal("16") + Decimal("19"),)]   # cust-1 2 × 10 × 0.8, the others 2 × 10 × 0.95

    # semicolons instead of commas: the file cannot be used at all
    _agreements(inbox, AGREEMENTS_HEADER.replace(",", ";") + "*;*;*;0.05;2026-01-01;\n")
    code, out = _cli_run(inbox, capsys)
    assert code == EXIT_HELD
    assert f"HELD: {AGREEMENTS_KEY} (ETag " in out and "billing keeps the agreements of" in out
    assert [row[:2] for row in _held(warehouse)] == [(AGREEMENTS_KEY, "HOLD.UNREADABLE")]
    assert _month(warehouse) == before

    # readable, but cust-1's agreement is gone and the default rule ends: lines would lose their agreement
    _agreements(inbox, AGREEMENTS_HEADER + "*,*,*,0.05,2026-01-01,2026-08-31\n")
    code, out = _cli_run(inbox, capsys)
    assert code == EXIT_HELD and out.count("HELD: ") == 1
    held = _held(warehouse)
    assert [row[1:3] + row[-1:] for row in held] == [
        ("HOLD.UNREADABLE", held[0][2], True),
        ("HOLD.AGREEMENT_LOSS", "it would leave 4 bill lines of 3 customer(s) without the agreement they are billed "
                                "at now (they would be billed at list price)", False)]
    assert _month(warehouse) == before
    html = (tmp_path / "reports" / CYCLE / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
    assert "HOLD.AGREEMENT_LOSS" in html

    # accepted: the month is priced at list price, as the file says
    assert main(["accept", "--key", AGREEMENTS_KEY]) == 0
    assert "The next run of each month (`billrecon run --month YYYY-MM`) applies it" in capsys.readouterr().out
    assert _cli_run(inbox, capsys)[0] == 0
    assert _query(warehouse, "select sum(customer_charge_amount) from marts.customer_monthly_expenditure") == [
        (Decimal("40"),)]


def _rewrite(s3_server, bucket: str, key: str, change) -> None:
    from sandbox.objectstore import make_s3_client

    client = make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=change(body))


def test_an_unusable_incentive_statement_redelivery_is_held(tmp_path, s3_server, bucket):
    cycle = "2026-08"
    key = "incentives/incentive_statement_202608.csv"
    resources = pipeline_resources(tmp_path, s3=s3_server, bucket=bucket)
    warehouse, published = resources["warehouse"].path, resources["warehouse"].published
    assert run_cycle(cycle, resources).success
    statement_lines = _query(warehouse, "select count(*) from staging.incentive_statement where period = ?", [cycle])
    assert statement_lines[0][0] > 0
    before, published_before = _month(warehouse), _month(published)
    sheet = _query(warehouse, "select * from staging.incentive_statement order by all")

    # only the header survived the export
    _rewrite(s3_server, bucket, key, lambda body: body.split(b"\n", 1)[0] + b"\n")
    outcome = run_cycle(cycle, resources)
    assert outcome.success and "stg_incentive_statement:no_held_delivery" in outcome.failed_checks
    # a warning check: the command lists it as a finding to review, not as a failed check
    assert "stg_incentive_statement:no_held_delivery" in outcome.warning_checks
    assert "stg_incentive_statement:no_held_delivery" not in outcome.error_checks
    assert "; checks with findings to review: " in progress_line(outcome, 1.0)
    assert "stg_incentive_statement:no_held_delivery" not in progress_line(outcome, 1.0).split("; checks with")[0]
    lines = statement_lines[0][0]
    assert [row[:4] for row in _held(warehouse)] == [
        (key, "HOLD.LINE_DROP", f"it would remove {lines:,} of {lines:,} statement lines of 2026-08", 0)]
    assert _month(warehouse) == before and _month(published) == published_before
    assert _query(warehouse, "select * from staging.incentive_statement order by all") == sheet

    # accepted and applied: the period has no statement lines, and the delivery's load is recorded
    con = duckdb.connect(warehouse)
    from pipelines.lib.holds import release
    release(con, key, None, released_by="finance")
    con.close()
    assert run_cycle(cycle, resources).success
    assert _query(warehouse, "select count(*) from staging.incentive_statement where period = ?", [cycle]) == [(0,)]
    assert _query(warehouse, "select sha256, rows_read from audit.loads where object_key = ?", [key]) == [
        (file_sha256(_landed(warehouse, key)), 0)]


def _landed(warehouse: str, key: str):
    from pathlib import Path

    (local,), = _query(warehouse, "select local_path from landing.objects where object_key = ? "
                                  "order by landed_at desc limit 1", [key])
    return Path(warehouse).parent / "landing" / local


def test_incentive_rates_losing_most_rows_are_held_and_a_first_delivery_of_rates_is_not(tmp_path):
    inbox = _inbox(tmp_path, {MEMBER: member_csv(FOUR_LINES)})
    rates = inbox / "agreements" / "incentive_rates.csv"
    header = "incentive_type,policy_code,rate,valid_from,valid_to\n"
    # the first delivery has one good row of three: nothing to replace, so it loads what it can
    rates.write_text(header + "Monthly rebate,0,0.05,2026-01-01,\nMonthly rebate,x,0.08,2026-01-01,\n"
                              "Monthly rebate,1,1.5,2026-01-01,\n", encoding="utf-8")
    resources = pipeline_resources(tmp_path, inbox=inbox)
    warehouse = resources["warehouse"].path
    _run(resources)
    assert _held(warehouse) == []
    rates.write_text(header + "Monthly rebate,0,0.05,2026-01-01,\nMonthly rebate,1,0.08,2026-01-01,\n"
                              "Monthly rebate,13,0,2026-01-01,\n", encoding="utf-8")
    _run(resources)
    assert _query(warehouse, "select count(*) from staging.incentive_rate") == [(3,)]
    before = _month(warehouse)

    # a re-export where two of the three rates lost their policy code
    rates.write_text(header + "Monthly rebate,0,0.05,2026-01-01,\nMonthly rebate,,0.08,2026-01-01,\n"
                              "Monthly rebate,,0,2026-01-01,\n", encoding="utf-8")
    outcome = _run(resources)
    assert "stg_incentive_rates:no_held_delivery" in outcome.failed_checks
    assert _held(warehouse) == [("agreements/incentive_rates.csv", "HOLD.LINE_DROP",
                                 "it would remove 2 of 3 incentive rates", 3, 1, 2, 0, False)]
    (first_error,), = _query(warehouse, "select first_error from audit.held_deliveries")
    assert first_error.startswith("record 2: ")
    assert _query(warehouse, "select policy_code from staging.incentive_rate order by 1") == [(0,), (1,), (13,)]
    assert _month(warehouse) == before
