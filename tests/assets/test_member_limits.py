"""BILLRECON_MAX_MEMBER_BYTES applies to every file the pipeline reads: an agreement or incentive
file over it is refused unread by its staging asset, with its rule and one line, and nothing is lost
(the delivery stays landed, audit.loads and audit.quarantine say why nothing loaded)."""

import dagster as dg
import duckdb
import pytest

from pipelines.assets.incentive_files import landed_incentive_statement, stg_incentive_rates, stg_incentive_statement
from pipelines.assets.landing import landed_agreements
from pipelines.assets.staging import stg_chart_of_accounts, stg_customer_discounts
from pipelines.partitions import partition_key
from pipelines.resources import ObjectStoreResource, WarehouseResource

LIMIT = 120
FILES = {
    "agreements/customer_discounts.csv": ("staging.customer_discount",
                                          "customer_id,service_type_code,resource_type_code,discount_rate,valid_from,"
                                          "valid_to\n" + "*,*,*,0.05,2026-01-01,\n" * 8),
    "agreements/incentive_rates.csv": ("staging.incentive_rate", "incentive_type,policy_code,rate,valid_from,"
                                                                  "valid_to\n" + "growth,P1,0.02,2026-01-01,\n" * 8),
    "agreements/chart_of_accounts.csv": ("staging.chart_of_account",
                                         "account,ledger_code,ledger_name\n" + "revenue,4000,Cloud revenue\n" * 8),
    "incentives/incentive_statement_202609.csv": ("staging.incentive_statement",
                                                  "period,customer_id,incentive_type,amount\n"
                                                  + "2026-09,C1,growth,1.00\n" * 8),
}


def _inbox(tmp_path):
    inbox = tmp_path / "inbox"
    for key, (_, text) in FILES.items():
        (inbox / key).parent.mkdir(parents=True, exist_ok=True)
        (inbox / key).write_text(text, encoding="utf-8")
    return inbox


def _materialize(inbox, warehouse: WarehouseResource) -> str:
    result = dg.materialize(
        [landed_agreements, landed_incentive_statement, stg_customer_discounts, stg_incentive_rates,
         stg_chart_of_accounts, stg_incentive_statement],
        partition_key=partition_key("2026-09"),
        resources={"warehouse": warehouse, "object_store": ObjectStoreResource(inbox_dir=str(inbox))})
    assert result.success
    return result.run_id


def test_an_agreement_or_incentive_file_over_the_member_limit_is_refused_with_its_rule(tmp_path):
    inbox = _inbox(tmp_path)
    warehouse = WarehouseResource(path=str(tmp_path / "wh" / "billrecon.duckdb"), max_member_bytes=LIMIT)
    _materialize(inbox, warehouse)
    con = duckdb.connect(warehouse.path, read_only=True)
    sizes = {key: (inbox / key).stat().st_size for key in FILES}
    assert all(size > LIMIT for size in sizes.values())
    assert sorted(con.execute("select object_key, rule_id, reason from audit.quarantine").fetchall()) == sorted(
        (key, "FILE.MEMBER_TOO_LARGE", f"member is {size} bytes, more than the {LIMIT} allowed — raise "
                                       "BILLRECON_MAX_MEMBER_BYTES if the member is genuine and run the month "
                                       "again, or ask its sender to re-deliver the file")
        for key, size in sizes.items())
    assert sorted(con.execute("select object_key, rows_read, rows_loaded, rows_quarantined, status "
                              "from audit.loads").fetchall()) == sorted((key, 0, 0, 0, "rejected") for key in FILES)
    for table, _ in FILES.values():
        assert con.execute(f"select count(*) from {table}").fetchone() == (0,), table
    # nothing lost: every delivery is landed, whole, for a rerun with a higher limit
    assert sorted(con.execute("select object_key, size_bytes from landing.objects").fetchall()) == sorted(sizes.items())


@pytest.mark.parametrize("limit", [{"max_member_bytes": LIMIT}, {"max_member_rows": 3}])
def test_a_file_refused_for_a_limit_is_staged_again_once_the_limit_is_raised_and_only_then(tmp_path, limit):
    inbox = _inbox(tmp_path)
    path = str(tmp_path / "wh" / "billrecon.duckdb")
    _materialize(inbox, WarehouseResource(path=path, **limit))
    _materialize(inbox, WarehouseResource(path=path, **limit))  # the same limit: not read again
    with duckdb.connect(path, read_only=True) as con:
        assert con.execute("select count(*), count(distinct load_id) from audit.quarantine").fetchone() == (4, 1)
    raised = _materialize(inbox, WarehouseResource(path=path))
    again = _materialize(inbox, WarehouseResource(path=path))  # staged: not read again
    with duckdb.connect(path, read_only=True) as con:
        # every file read whole by the run that raised the limit (8 rows each), none since
        assert sorted(con.execute("select object_key, rows_read, load_id from audit.loads").fetchall()) == sorted(
            (key, 8, raised) for key in FILES)
        assert con.execute("select count(*) from audit.quarantine where rule_id in "
                           "('FILE.MEMBER_TOO_LARGE', 'FILE.MEMBER_TOO_MANY_ROWS')").fetchone() == (0,)
    assert again != raised
