"""BSS API ingestion against the emulator as a real HTTP server, called through the official SDKs by
the pipeline's own client: signing, paging to the end, throttling, injected faults, failures that
keep the previous snapshot, the Dagster assets end to end, and AK/SK that never leak."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import dagster as dg
import huaweicloudsdkcore.signer.signer as sdk_signer
import polars as pl
import pytest

from pipelines.assets.api import API_ASSETS, SKIPPED
from pipelines.lib.bss import DATASETS, BssApi, BssCallFailed, BssConnection, Puller, RetryPolicy
from pipelines.lib.bss.datasets import SCOPE_FIELD
from pipelines.lib.warehouse import connect
from pipelines.partitions import partition_key
from pipelines.resources import BssApiResource, WarehouseResource
from pipelines.settings import resources_from_env
from sandbox import WorldConfig, generate_world
from sandbox.bss import BssEmulator, FaultConfig, ThrottleConfig
from schemas.bill_cycle import BillCycle

SMALL = WorldConfig(seed=23, customers=24, resellers=2, closed_months=2, lines_per_month=1500,
                    first_month="2026-08", usage_export_days=4)
# with pages of 10, the partner's own scope alone holds >10 pages of customers, coupons and 2026-08 orders
LARGE = WorldConfig(seed=5, customers=240, resellers=2, closed_months=1, lines_per_month=6000,
                    first_month="2026-08", usage_export_days=2)
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
FAST_RETRIES = RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.2, max_total_seconds=20)


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def small_world():
    world = generate_world(SMALL)
    world.api_data.prepare()
    return world


@pytest.fixture(scope="module")
def large_world():
    world = generate_world(LARGE)
    world.api_data.prepare()
    return world


@pytest.fixture(scope="module")
def bss(small_world):
    with BssEmulator(small_world, throttle=False) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def no_faults(request):
    yield
    if "bss" in request.fixturenames:
        request.getfixturevalue("bss").faults = FaultConfig()


def connection(emulator: BssEmulator, *, secret_key: str | None = None, read_timeout: float = 10.0) -> BssConnection:
    return BssConnection(emulator.endpoint_url, emulator.access_key, secret_key or emulator.secret_key,
                         emulator.domain_id, connect_timeout=2.0, read_timeout=read_timeout)


def resources(emulator: BssEmulator, tmp_path: Path, **api_settings) -> dict:
    settings = {"backoff_base_seconds": 0.02, "max_retry_seconds": 20, **api_settings}
    return {
        "warehouse": WarehouseResource(path=str(tmp_path / "wh" / "billrecon.duckdb")),
        "bss_api": BssApiResource(endpoint=emulator.endpoint_url, access_key=emulator.access_key,
                                  secret_key=emulator.secret_key, domain_id=emulator.domain_id, **settings),
    }


def assets_of(*datasets: str) -> list[dg.AssetsDefinition]:
    names = {f"{layer}_api_{d}" for d in datasets for layer in ("landed", "stg")}
    return [a for a in API_ASSETS if a.key.to_user_string() in names]


def step_failures(result) -> dict[str, str]:
    return {e.step_key: e.event_specific_data.error.message for e in result.all_events
            if e.event_type == dg.DagsterEventType.STEP_FAILURE}


def gmt8_month(utc_text: str) -> str:
    return str(BillCycle.of(dt.datetime.strptime(utc_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)))


def money_sum(records, field: str) -> Decimal:
    return sum((Decimal(str(r[field])) for r in records), Decimal(0))


# ------------------------------------------------------------------------------------------ signing

def test_a_correct_call_succeeds_and_matches_the_worlds_bill(bss, small_world):
    with BssApi(connection(bss)) as api:
        pulled = Puller(api).pull(DATASETS["partner_monthly_bill"], "2026-09")
    bill = pulled.records[0]
    lines = small_world.bill_lines["2026-09"]
    due = dict(lines.group_by("bill_type").agg(pl.col("amount_due").sum()).iter_rows())
    assert bill["bill_cycle"] == "2026-09"
    assert bill["consume_amount"] == due["Expenditure"] and bill["refunds"] == due["Refund"]
    assert bill["initial_amount_due"] == due["Expenditure"] + due["Refund"] + due.get("Adjustment", 0)
    assert isinstance(bill["consume_amount"], Decimal)


def test_a_wrong_secret_key_is_rejected_and_not_retried(bss):
    bss.reset_counters()
    with BssApi(connection(bss, secret_key="not-the-secret-key-at-all"), FAST_RETRIES) as api:
        with pytest.raises(BssCallFailed) as failed:
            Puller(api).pull(DATASETS["customers"])
    message = str(failed.value)
    assert re.match(r"^POST /v2/partners/indirect-partners/query failed: HTTP 401 CBC\.0154 "
                    r"\(request id [0-9a-f]{32}\): Authentication failed", message), message
    assert failed.value.attempts == 1
    assert bss.responses_by_route[("list_indirect_partners", 401)] == 1
    assert "not-the-secret-key-at-all" not in message and bss.secret_key not in message


def test_a_stale_signing_date_is_rejected(bss, monkeypatch):
    class TwentyMinutesSlow(dt.datetime):
        @classmethod
        def utcnow(cls):
            return dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20)

    monkeypatch.setattr(sdk_signer, "datetime", TwentyMinutesSlow)
    with BssApi(connection(bss), FAST_RETRIES) as api:
        with pytest.raises(BssCallFailed, match=r"failed: HTTP 401 CBC\.0154 .*Authentication failed"):
            Puller(api).pull(DATASETS["partner_monthly_bill"], "2026-09")


# ------------------------------------------------------------------------------------------ paging, throttling, faults

def test_a_large_world_is_pulled_completely_through_the_assets(large_world, tmp_path):
    """More customers, coupons and orders than fit in ten pages of 10, in the partner's own scope alone:
    the staged counts and sums equal the world's, to the last decimal."""
    api_data, cycle = large_world.api_data, "2026-08"
    paged_by_ten = assets_of("customers", "coupons", "orders", "budgets")
    the_rest = [a for a in API_ASSETS if a not in paged_by_ten]
    with BssEmulator(large_world, throttle=False) as emulator:
        result = dg.materialize(paged_by_ten, partition_key=partition_key(cycle), run_config=QUIET,
                                resources=resources(emulator, tmp_path, page_size=10))
        assert result.success
        assert dg.materialize(the_rest, partition_key=partition_key(cycle), run_config=QUIET,
                              resources=resources(emulator, tmp_path)).success
    pages = {e.materialization.asset_key.to_user_string(): e.materialization.metadata["pages"].value
             for e in result.get_asset_materialization_events() if "pages" in e.materialization.metadata}
    own = Counter(api_data.reseller_of[c["customer_id"]] for c in api_data.customers)[None]
    assert own > 100 and pages["landed_api_customers"] > 10 + 1
    assert pages["landed_api_coupons"] > 10 and pages["landed_api_orders"] > 10

    con = connect(tmp_path / "wh" / "billrecon.duckdb", read_only=True)
    try:
        def one(sql, *params):
            return con.execute(sql, list(params)).fetchone()

        customers = one("select count(*), count(distinct customer_id) from staging.api_customer")
        assert customers == (len(api_data.customers), LARGE.customers)
        owners = dict(con.execute("select customer_id, indirect_partner_id from staging.api_customer").fetchall())
        assert owners == dict(zip(large_world.customers["customer_id"], large_world.customers["indirect_partner_id"]))

        coupons = one("select count(*), sum(face_value), sum(balance) from staging.api_coupon")
        assert coupons == (len(api_data.coupons), money_sum(api_data.coupons, "face_value"),
                           money_sum(api_data.coupons, "balance"))

        orders = [o for o in api_data.orders if gmt8_month(o["payment_time"]) == cycle]
        world_orders = large_world.orders.filter(pl.col("trade_time").str.starts_with(cycle))
        staged = one("select count(*), sum(official_amount), sum(amount_after_discount) from staging.api_order")
        assert staged == (len(orders), money_sum(orders, "official_amount"), money_sum(orders, "amount_after_discount"))
        assert staged[0] == world_orders.height > 100
        discounts = one("select count(*), sum(discount_amount) from staging.api_order_discount")
        expected = [d for o in orders for d in o["amount_info"]["discounts"]]
        assert discounts == (len(expected), money_sum(expected, "discount_amount"))

        budgets = one("select count(*), sum(budget_amount), sum(used_amount) from staging.api_budget")
        assert budgets == (len(api_data.budgets), money_sum(api_data.budgets, "budget_amount"),
                           money_sum(api_data.budgets, "used_amount"))

        # the customers' monthly sums tie out with the bill file, customer by customer
        lines = large_world.bill_lines[cycle]
        file_totals = dict(lines.group_by("customer_id").agg(pl.col("amount_due").sum()).iter_rows())
        api_totals = dict(con.execute("select customer_id, sum(amount) from staging.api_customer_monthly_sum "
                                      "group by 1").fetchall())
        assert api_totals == file_totals
        bill = one("select consume_amount, initial_amount_due from staging.api_partner_monthly_bill")
        assert bill[0] == lines.filter(pl.col("bill_type") == "Expenditure")["amount_due"].sum()
        assert bill[1] == lines["amount_due"].sum()

        loads = con.execute("select source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
                            "from audit.loads group by 1").fetchall()
        assert {source for source, *_ in loads} == {f"api:{name}" for name in DATASETS}
        assert all(read == loaded and quarantined == 0 for _, read, loaded, quarantined in loads)
    finally:
        con.close()


def _pull_all(emulator: BssEmulator, datasets: list[str], cycle: str, *, page_size: int = 5,
              read_timeout: float = 10.0, policy: RetryPolicy = FAST_RETRIES) -> tuple[dict, BssApi]:
    with BssApi(connection(emulator, read_timeout=read_timeout), policy) as api:
        puller = Puller(api, page_size=page_size)
        return {name: puller.pull(DATASETS[name], cycle).records for name in datasets}, api


def _keyed(records: list[dict]) -> list[str]:
    return sorted(repr(sorted(r.items())) for r in records)


def test_a_burst_that_is_throttled_still_finishes_with_complete_data(small_world):
    reference = small_world.api_data
    throttle = ThrottleConfig(default_rate=3.0, route_rates={}, burst_seconds=1.0)
    with BssEmulator(small_world, throttle=throttle) as emulator:
        pulled, api = _pull_all(emulator, ["customers"], "2026-09", page_size=3)
        throttled = sum(n for (route, status), n in emulator.responses_by_route.items() if status == 429)
    assert throttled >= 2 and api.stats.throttled == throttled
    customers = pulled["customers"]
    assert sorted(c["customer_id"] for c in customers) == sorted(c["customer_id"] for c in reference.customers)
    assert all(c[SCOPE_FIELD] == reference.reseller_of[c["customer_id"]] for c in customers)


def test_injected_5xx_timeouts_and_broken_bodies_are_retried_to_complete_data(bss):
    datasets = ["customers", "orders", "customer_monthly_sums", "partner_monthly_bill"]
    clean, _ = _pull_all(bss, datasets, "2026-09")
    bss.reset_counters()
    bss.faults = FaultConfig(error_rate=0.3, malformed_rate=0.1, slow_rate=0.05, slow_seconds=0.8, seed=3)
    faulty, api = _pull_all(bss, datasets, "2026-09", read_timeout=0.3)
    server_errors = sum(n for (route, status), n in bss.responses_by_route.items() if status >= 500)
    # a slow answer that ends in a 5xx reaches the client as a timeout: the client counts it there
    assert api.stats.server_errors >= 5 and api.stats.server_errors <= server_errors
    assert api.stats.timeouts_or_broken >= 2
    for name in datasets:
        assert _keyed(faulty[name]) == _keyed(clean[name]), name
    sums = defaultdict(Decimal)
    for row in faulty["customer_monthly_sums"]:
        sums[row["customer_id"]] += row["amount"]
    assert sum(sums.values()) == faulty["partner_monthly_bill"][0]["initial_amount_due"]


# ------------------------------------------------------------------------------------------ failures keep the previous snapshot

def _snapshot_rows(tmp_path: Path, dataset: str) -> list[tuple]:
    con = connect(tmp_path / "wh" / "billrecon.duckdb", read_only=True)
    try:
        return con.execute("select snapshot_path, record_count from landing.api_snapshots where dataset = ? "
                           "order by fetched_at", [dataset]).fetchall()
    finally:
        con.close()


def test_faults_that_never_stop_fail_the_asset_clearly_and_keep_the_previous_snapshot(bss, tmp_path):
    chosen = assets_of("partner_monthly_bill")
    first = dg.materialize(chosen, partition_key=partition_key("2026-09"), run_config=QUIET, resources=resources(bss, tmp_path))
    assert first.success
    before = _snapshot_rows(tmp_path, "partner_monthly_bill")
    # the staging asset reports the snapshot under the keys every staging asset reports (file ones too)
    metadata = first.asset_materializations_for_node("stg_api_partner_monthly_bill")[0].metadata
    assert metadata["object_key"].value == before[0][0]
    assert metadata["staged"].value == (
        f"{before[0][0]}: 1 member(s), {metadata['rows_read'].value} rows read, {metadata['rows_loaded'].value} "
        f"loaded, 0 quarantined, {metadata['findings'].value} findings")
    files_before = sorted(p.name for p in (tmp_path / "wh" / "landing" / "api").rglob("*"))

    bss.faults = FaultConfig(always_fail=frozenset({"list_postpaid_bill_sum"}))
    failed = dg.materialize(chosen, partition_key=partition_key("2026-09"), run_config=QUIET, resources=resources(bss, tmp_path),
                            raise_on_error=False)
    assert not failed.success
    failures = step_failures(failed)
    assert list(failures) == ["landed_api_partner_monthly_bill"]
    assert re.search(r"GET /v2/bills/partner-bills/postpaid-bill-summary failed after 6 attempts: "
                     r"HTTP 503 CBC\.0999 \(request id [0-9a-f]{32}\)", failures["landed_api_partner_monthly_bill"])
    failure_event = next(e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    metadata = failure_event.event_specific_data.user_failure_data.metadata
    assert metadata["route"].value == "GET /v2/bills/partner-bills/postpaid-bill-summary"
    assert metadata["error_code"].value == "CBC.0999" and metadata["requests"].value == 6
    # nothing of the failed pull is kept; the staged month is the previous snapshot's
    assert _snapshot_rows(tmp_path, "partner_monthly_bill") == before
    assert sorted(p.name for p in (tmp_path / "wh" / "landing" / "api").rglob("*")) == files_before
    con = connect(tmp_path / "wh" / "billrecon.duckdb", read_only=True)
    try:
        assert con.execute("select src_snapshot from staging.api_partner_monthly_bill").fetchall() == [(before[0][0],)]
    finally:
        con.close()


def test_a_list_that_keeps_changing_while_paged_fails_and_keeps_the_previous_snapshot(bss, tmp_path):
    chosen = assets_of("customers")
    assert dg.materialize(chosen, partition_key=partition_key("2026-09"), run_config=QUIET,
                          resources=resources(bss, tmp_path, page_size=5)).success
    before = _snapshot_rows(tmp_path, "customers")
    bss.faults = FaultConfig(shifting_total=True, routes=frozenset({"list_sub_customers"}))
    failed = dg.materialize(chosen, partition_key=partition_key("2026-09"), run_config=QUIET,
                            resources=resources(bss, tmp_path, page_size=5), raise_on_error=False)
    message = step_failures(failed)["landed_api_customers"]
    assert "POST /v2/partners/sub-customers/query: the list kept changing while it was paged" in message
    assert "kept nothing" in message
    assert _snapshot_rows(tmp_path, "customers") == before


def test_without_an_endpoint_every_api_asset_succeeds_doing_nothing(tmp_path):
    result = dg.materialize(API_ASSETS, partition_key=partition_key("2026-09"), run_config=QUIET, resources={
        "warehouse": WarehouseResource(path=str(tmp_path / "wh" / "billrecon.duckdb")), "bss_api": BssApiResource()})
    assert result.success
    notes = {e.materialization.asset_key.to_user_string(): e.materialization.metadata["note"].value
             for e in result.get_asset_materialization_events()}
    assert len(notes) == len(API_ASSETS) and set(notes.values()) == {SKIPPED}
    assert not (tmp_path / "wh" / "landing" / "api").exists()


# ------------------------------------------------------------------------------------------ secrets

# scoped pulls, a batch query, string amounts, and one dataset that fails
SEARCHED = ("customers", "budgets", "partner_credit", "orders", "invoices")
SENTINEL_AK = "SENTINELAK7Q4Z0X2M9"
SENTINEL_SK = "SENTINEL-sk-8c1f3e9a2b7d4f60a5e1c9d3"


def test_the_access_and_secret_keys_appear_in_no_log_event_metadata_or_file(small_world, tmp_path, monkeypatch,
                                                                            caplog, capfd):
    caplog.set_level("DEBUG")
    home = tmp_path / "dagster_home"
    home.mkdir()
    with BssEmulator(small_world, throttle=False, access_key=SENTINEL_AK, secret_key=SENTINEL_SK) as emulator:
        for variable, value in {"BILLRECON_BSS_ENDPOINT": emulator.endpoint_url, "BILLRECON_BSS_AK": SENTINEL_AK,
                                "BILLRECON_BSS_SK": SENTINEL_SK, "BILLRECON_BSS_DOMAIN_ID": emulator.domain_id,
                                "BILLRECON_WAREHOUSE": str(tmp_path / "wh" / "billrecon.duckdb"),
                                "BILLRECON_BSS_MAX_ATTEMPTS": "2"}.items():
            monkeypatch.setenv(variable, value)
        configured = resources_from_env()
        assert configured["bss_api"].secret_key == dg.EnvVar("BILLRECON_BSS_SK")
        # one dataset fails (after a retry), so that retry logs and failure messages are searched as well
        emulator.faults = FaultConfig(always_fail=frozenset({"list_invoices"}))
        instance = dg.DagsterInstance.local_temp(str(home))
        try:
            result = dg.materialize(
                assets_of(*SEARCHED), partition_key=partition_key("2026-09"), instance=instance, raise_on_error=False,
                resources={"warehouse": configured["warehouse"], "bss_api": configured["bss_api"]},
            )
            stored = instance.all_logs(result.run_id)
        finally:
            instance.dispose()
    assert step_failures(result).keys() == {"landed_api_invoices"}
    assert sum(1 for e in result.get_asset_materialization_events()) == 2 * len(SEARCHED) - 2

    captured = capfd.readouterr()
    texts = {"caplog": caplog.text, "stdout": captured.out, "stderr": captured.err,
             "events": "\n".join(repr(e) for e in result.all_events),
             "stored events": "\n".join(repr(e) for e in stored)}
    assert "POST /v2/partners/sub-customers/query" in texts["events"] + texts["stored events"]
    assert "failed after 2 attempts: HTTP 503 CBC.0999" in texts["stored events"]
    for where, text in texts.items():
        assert SENTINEL_AK not in text and SENTINEL_SK not in text, where
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in files) and any(p.name.endswith(".duckdb") for p in files)
    assert any("dagster_home" in p.parts for p in files)
    for path in files:
        data = path.read_bytes()
        assert SENTINEL_AK.encode() not in data and SENTINEL_SK.encode() not in data, path
