"""The audit writer names the columns of every audit table as its DDL (sql/audit) does."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.lib import audit

AUDIT_DDL = Path(__file__).resolve().parents[2] / "sql" / "audit"


def test_the_writer_knows_every_audit_table_of_the_ddl():
    assert set(audit.AUDIT_COLUMNS) == {f"audit.{path.stem}" for path in AUDIT_DDL.glob("*.sql")}


@pytest.mark.parametrize("table", sorted(audit.AUDIT_COLUMNS))
def test_the_writers_columns_are_the_ddls_columns_in_order(con, table):
    ddl_columns = tuple(row[0] for row in con.execute(f"describe {table}").fetchall())
    assert audit.AUDIT_COLUMNS[table] == ddl_columns


def test_a_row_is_written_by_column_name_whatever_the_order_given(con):
    audit.insert_row(con, "audit.ignored_objects", {
        "reason": "a copy", "bill_cycle": "2026-10", "size_bytes": 12, "etag": "e1",
        "object_key": "customerBill/copy_202610.tar.gz", "source": "customerBill"})
    assert con.execute("select * from audit.ignored_objects").fetchall() == [
        ("customerBill", "customerBill/copy_202610.tar.gz", "e1", 12, "2026-10", "a copy")]


def test_a_column_the_table_lacks_is_refused_before_anything_is_written(con):
    with pytest.raises(ValueError, match="audit.model_builds has no column modle"):
        audit.insert_row(con, "audit.model_builds", {
            "modle": "core.x", "bill_cycle": "2026-10", "fingerprint": "f", "metadata": "{}",
            "built_at": datetime(2026, 11, 5, tzinfo=UTC)})
    assert con.execute("select count(*) from audit.model_builds").fetchone() == (0,)


def test_forgetting_a_load_removes_its_loads_quarantine_and_findings_only(con):
    for load_id in ("run-1", "run-2"):
        position = {"load_id": load_id, "source": "customerBill", "object_key": "k", "bill_cycle": "2026-10"}
        audit.insert_row(con, "audit.loads", {
            **position, "etag": "e", "sha256": "s", "rows_read": 2, "rows_loaded": 1, "rows_quarantined": 1,
            "findings_count": 1, "status": "quarantined_rows", "loaded_at": datetime(2026, 11, 5, tzinfo=UTC)})
        audit.insert_row(con, "audit.quarantine", {**position, "rule_id": "FILE.REQUIRED", "reason": "empty"})
        audit.insert_row(con, "audit.findings", {**position, "rule_id": "BILL.AMOUNT_DUE_IDENTITY",
                                                 "severity": "error", "message": "off"})
    audit.forget_loads(con, "load_id = ?", ["run-1"])
    for table in audit.LOAD_TABLES:
        assert con.execute(f"select load_id from {table}").fetchall() == [("run-2",)]


def test_the_rules_catalogue_is_rewritten_whole_with_every_rule(con):
    from schemas.rules import RULES

    con.execute("insert into audit.rules values ('OLD.RULE', 'file', 'reject', 'gone', 'nothing')")
    assert audit.write_rule_catalogue(con) == len(RULES)
    assert audit.write_rule_catalogue(con) == len(RULES)  # a second run: the same rows, not twice
    rows = con.execute("select * from audit.rules order by rule_id").fetchall()
    assert rows == sorted((r.rule_id, r.area, r.severity, r.title, r.action) for r in RULES.values())
    assert con.execute("select action from audit.rules where rule_id = 'FILE.EMPTY_OBJECT'").fetchone() == (
        "ask HUAWEI CLOUD for a re-delivery",)
