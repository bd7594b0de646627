"""A run of a cycle with nothing new since its last successful run keeps that run's outputs without
starting Dagster (pipelines/rerun.py); anything new — a bill delivery, an agreement file, a SQL
model, a setting, a touched output, the BSS API configured — makes the run do the work, and a held
re-delivery stays held."""

import shutil
from decimal import Decimal

import dagster as dg
import duckdb

from billrecon.commands import progress_line
from pipelines.lib.holds import open_holds
from pipelines.lib.rerun import RUN_RECORD, RunFacts
from pipelines.lib.warehouse import SQL_DIR
from pipelines.resources import BssApiResource, ReportsResource
from pipelines.runner import run_cycle
from sandbox import WorldConfig, generate_world
from sandbox.bss import BssEmulator
from tests.fixtures.bill_files import good_row, member_csv, write_archive
from tests.integration.conftest import pipeline_resources
from tests.integration.test_bad_input import _inbox

CYCLE = "2026-09"
KEY = "customerBill/customerBill_202609.tar.gz"
MEMBER = "customerBill_202609_0001.csv"
DISCOUNTS = "agreements/customer_discounts.csv"


def _month(tmp_path, trade_ids=("A1", "A2", "A3")):
    inbox = _inbox(tmp_path, {MEMBER: member_csv([good_row(trade_id=t) for t in trade_ids])})
    return inbox, pipeline_resources(tmp_path, inbox=inbox)


def _run(resources, instance, **options):
    outcome = run_cycle(CYCLE, resources, instance=instance, **options)
    assert outcome.success, outcome.failure
    return outcome


def _query(resources, sql):
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _outputs(resources) -> dict:
    """Every file a run writes for the cycle, with its bytes and modification time."""
    warehouse = resources["warehouse"]
    files = [*resources["reports"].cycle_dir(CYCLE).rglob("*"), warehouse.published]
    return {str(path): (path.read_bytes(), path.stat().st_mtime_ns) for path in files if path.is_file()}


def _totals(resources):
    return _query(resources, """select count(*), sum(amount_due), sum(customer_charge_amount)
                                from marts.customer_bill_line where bill_cycle = '2026-09'""")


def test_a_rerun_with_nothing_new_reuses_the_last_run_and_writes_nothing(tmp_path):
    _, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    first = _run(resources, instance)
    assert first.reused is None and first.run_id
    outputs = _outputs(resources)
    assert len(outputs) > 5
    warehouse_mtime = (tmp_path / "wh" / "billrecon.duckdb").stat().st_mtime_ns

    second = _run(resources, instance)

    assert second.reused is not None and second.reused.run_id == first.run_id
    assert [run.run_id for run in instance.get_runs()] == [first.run_id]  # no Dagster run started
    assert _outputs(resources) == outputs
    assert (tmp_path / "wh" / "billrecon.duckdb").stat().st_mtime_ns == warehouse_mtime
    assert progress_line(second, 0.4) == (f"done in 0.4 s; nothing new since run {first.run_id} "
                                          f"({second.reused.finished_at}): reused its outputs")
    assert second.reused.finished_at.endswith(" UTC")
    (record,) = _query(resources, f"select metadata from audit.model_builds where model = '{RUN_RECORD}'")
    assert f'"run_id": "{first.run_id}"' in record[0]


def test_a_new_bill_delivery_is_run_and_changes_the_marts(tmp_path):
    inbox, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    _run(resources, instance)
    assert _totals(resources) == [(3, Decimal("27"), Decimal("28.5"))]
    write_archive(inbox / KEY, {MEMBER: member_csv([good_row(trade_id=t) for t in ("A1", "A2", "A3", "A4")])})

    second = _run(resources, instance)

    assert second.reused is None and len(instance.get_runs()) == 2
    assert _totals(resources) == [(4, Decimal("36"), Decimal("38"))]
    assert _run(resources, instance).reused.run_id == second.run_id  # and then nothing is new again


def test_a_changed_agreement_file_is_run_and_changes_the_marts(tmp_path):
    inbox, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    _run(resources, instance)
    (inbox / DISCOUNTS).write_text("customer_id,service_type_code,resource_type_code,discount_rate,valid_from,"
                                   "valid_to\n*,*,*,0.10,2026-01-01,\n", encoding="utf-8")

    assert _run(resources, instance).reused is None
    assert _totals(resources) == [(3, Decimal("27"), Decimal("27"))]


def test_a_changed_sql_model_is_run_and_changes_the_marts(tmp_path):
    _, resources = _month(tmp_path)
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    instance = dg.DagsterInstance.ephemeral()
    _run(resources, instance, sql_dir=sql_dir)
    assert _run(resources, instance, sql_dir=sql_dir).reused is not None
    names = "select account_name from marts.chart_of_accounts order by account"
    before = _query(resources, names)
    model = sql_dir / "marts" / "chart_of_accounts.sql"
    model.write_text(model.read_text(encoding="utf-8").replace(
        "select account, account_code, account_name,", "select account, account_code, upper(account_name) as account_name,"),
        encoding="utf-8")

    assert _run(resources, instance, sql_dir=sql_dir).reused is None
    after = _query(resources, names)
    assert after == [(name.upper(),) for (name,) in before] and after != before


def test_a_changed_setting_or_a_removed_output_is_run_again(tmp_path):
    _, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    _run(resources, instance)
    html = resources["reports"].cycle_dir(CYCLE) / f"month_close_{CYCLE}.html"
    html.unlink()
    assert _run(resources, instance).reused is None
    assert html.is_file()
    published = resources["warehouse"].published
    abandoned = published.with_name(f".{published.name}.4242.incoming")  # what a killed publisher leaves
    abandoned.write_bytes(b"half a copy")
    assert _run(resources, instance).reused is None
    assert not abandoned.exists()
    resources["reports"] = ReportsResource(out_dir=resources["reports"].out_dir, focus_exports=1)
    assert _run(resources, instance).reused is None
    assert (html.parent / f"focus_partner_cost_{CYCLE}.parquet").is_file()
    assert _run(resources, instance).reused is not None


def test_a_held_redelivery_is_run_once_held_and_the_month_keeps_its_delivery(tmp_path):
    inbox, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    _run(resources, instance)
    totals = _totals(resources)
    write_archive(inbox / KEY, {MEMBER: member_csv([good_row(trade_id="A1")])})  # two of three lines gone

    held = _run(resources, instance)
    again = _run(resources, instance)

    assert held.reused is None and again.reused.run_id == held.run_id
    # the reused run reports the held delivery's check as the run that held it did
    assert "stg_bill_lines:no_held_delivery" in held.warning_checks
    assert again.warning_checks == held.warning_checks and again.failed_checks == held.failed_checks
    assert _totals(resources) == totals
    con = duckdb.connect(resources["warehouse"].path, read_only=True)
    try:
        (hold,) = open_holds(con, CYCLE)
    finally:
        con.close()
    assert hold.object_key == KEY


def test_with_the_bss_api_every_run_pulls_it_and_a_changed_answer_changes_the_marts(tmp_path):
    # two worlds of the same months: the second's API answers the first's with other amounts
    first_world, second_world = (generate_world(WorldConfig(
        seed=seed, customers=4, resellers=1, closed_months=1, lines_per_month=120, first_month=CYCLE,
        usage_export_days=1)) for seed in (3, 4))
    _, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    tieout = "select component, api_amount from marts.partner_bill_tieout where bill_cycle = '2026-09' order by 1"
    with BssEmulator(first_world, throttle=False) as bss:
        resources["bss_api"] = BssApiResource(endpoint=bss.endpoint_url, access_key=bss.access_key,
                                              secret_key=bss.secret_key, domain_id=bss.domain_id)
        first = _run(resources, instance)
        answered = _query(resources, tieout)
        second = _run(resources, instance)  # what the API answers is only known by asking it
        assert second.reused is None and second.run_id != first.run_id
        assert _query(resources, tieout) == answered
        bss.api_data = second_world.api_data
        third = _run(resources, instance)
    assert third.reused is None
    changed = _query(resources, tieout)
    assert [component for component, _ in changed] == [component for component, _ in answered]
    assert changed != answered


def test_facts_that_cannot_be_gathered_run_the_month_and_say_why(tmp_path, monkeypatch):
    _, resources = _month(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    first = _run(resources, instance)

    def unreadable(*args, **kwargs):
        raise OSError("the inbox cannot be listed")

    monkeypatch.setattr(RunFacts, "gather", unreadable)
    second = _run(resources, instance)

    assert second.reused is None and second.success and len(instance.get_runs()) == 2
    assert second.note == ("whether anything is new could not be checked (the inbox cannot be listed), "
                           "so the whole month ran")
    assert progress_line(second, 2.0).startswith(f"done in 2.0 s; {second.note}")
    assert first.note is None
