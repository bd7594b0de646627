"""Every rule id the code names exists in schemas/rules.py, with an area of its own."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pandera.polars as pa

import schemas
from schemas.rules import AREAS, CHECK_AREAS, RULES, Rule, reconciliation_rules

ROOT = Path(__file__).resolve().parents[2]
# where rule ids are written: the SQL models and DDL, the schemas, the pipeline and the reports
SOURCE_FOLDERS = ("sql", "schemas", "pipelines", "reports")
# a quoted, dotted, upper-case name: 'TIEOUT.PARTNER_BILL', "FILE.PARSE.MONEY"
RULE_ID = re.compile(r"""["']([A-Z][A-Z0-9_]*(?:\.[A-Z][A-Z0-9_]*)+)["']""")


def rule_ids_named_in(text: str) -> set[str]:
    return set(RULE_ID.findall(text))


def rule_ids_in_sources() -> dict[str, set[str]]:
    """Every rule id written in the source folders, with the files that write it."""
    found: dict[str, set[str]] = {}
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".sql", ".j2") or "__pycache__" in path.parts:
                continue
            for rule_id in rule_ids_named_in(path.read_text(encoding="utf-8")):
                found.setdefault(rule_id, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_rule_id_used_in_the_code_is_defined_in_schemas_rules():
    found = rule_ids_in_sources()
    unknown = {rule_id: sorted(files) for rule_id, files in found.items() if rule_id not in RULES}
    assert unknown == {}
    # the scan sees the ids of every layer: staging (Python), reconciliation (SQL) and holds
    assert {"FILE.PARSE.MONEY", "API.ENUM", "HOLD.LINE_DROP", "TIEOUT.PARTNER_BILL"} <= found.keys()
    assert any(f.startswith("sql/") for f in found["COUPON.USED_BEYOND_BALANCE"])


def test_the_scan_finds_ids_in_python_and_sql_text():
    assert rule_ids_named_in("""rule("FILE.NOT_CSV") where rule_id = 'TIEOUT.CUSTOMER_AMOUNT'""") == {
        "FILE.NOT_CSV", "TIEOUT.CUSTOMER_AMOUNT"}
    assert rule_ids_named_in("'NOT.A_RULE.ID'") == {"NOT.A_RULE.ID"}
    assert rule_ids_named_in("'lower.case' 'NODOT' CBC.0250") == set()


def test_every_rule_has_an_area_its_id_and_severity_are_consistent():
    for rule_id, info in RULES.items():
        assert isinstance(info, Rule) and info.rule_id == rule_id
        assert info.area in AREAS, rule_id
        assert info.severity in ("reject", "error", "warning", "info"), rule_id
        assert info.title and info.action, rule_id
    by_area = {area: sorted(r.rule_id for r in RULES.values() if r.area == area) for area in AREAS}
    assert by_area["delivery"] == ["HOLD.AGREEMENT_LOSS", "HOLD.CUSTOMER_DROP", "HOLD.LINE_DROP", "HOLD.UNREADABLE"]
    assert all(rule_id.startswith("API.") for rule_id in by_area["api"])
    assert by_area["tieout"] == ["TIEOUT.CUSTOMER_AMOUNT", "TIEOUT.CUSTOMER_MISSING_IN_API",
                                 "TIEOUT.CUSTOMER_MISSING_IN_FILE", "TIEOUT.PARTNER_BILL"]
    # staging's arithmetic findings are shown in the discount audit
    assert {"BILL.AMOUNT_DUE_IDENTITY", "BILL.PAYMENT_IDENTITY", "AGREEMENT.OVERLAP"} <= set(by_area["discount"])
    # a rejected row is a row of a file or of an API record, never a reconciliation finding
    assert {r.area for r in RULES.values() if r.severity == "reject"} == {"file", "api"}


def test_the_sql_models_name_only_reconciliation_rules_in_their_findings():
    reconciliation_ids = {r.rule_id for r in reconciliation_rules()}
    assert all(RULES[rule_id].area in CHECK_AREAS for rule_id in reconciliation_ids)
    for path in sorted((ROOT / "sql").glob("*/*.sql")):
        if path.parent.name not in ("core", "marts"):
            continue
        named = rule_ids_named_in(path.read_text(encoding="utf-8"))
        assert named <= reconciliation_ids, (path.name, named - reconciliation_ids)


def schema_models() -> list[type[pa.DataFrameModel]]:
    """Every pandera model of schemas/, bases included, bases first."""
    for module in pkgutil.iter_modules(schemas.__path__):
        importlib.import_module(f"schemas.{module.name}")
    models, pending = [], list(pa.DataFrameModel.__subclasses__())
    while pending:
        model = pending.pop(0)
        if model.__module__.startswith("schemas.") and model not in models:
            models.append(model)
        pending += model.__subclasses__()
    return models


def test_every_dataframe_check_of_every_model_is_named_by_its_rule_id():
    """A failing dataframe check quarantines its rows under its name, so the name must be a rule id in
    every model that has the check, inherited ones included (pandera names an inherited check after
    its function in all but the first model built, unless the check is a `rule_check`)."""
    checks = {(model.__name__, check.name) for model in schema_models() for check in model.to_schema().checks}
    assert {(model, name) for model, name in checks if name not in RULES} == set()
    assert {model for model, name in checks if name == "API.MONEY_UNIT"} >= {
        "InMajorUnits", "ApiOrderModel", "ApiBudgetModel", "ApiCouponModel", "ApiPartnerCouponModel"}
    assert {model for model, name in checks if name == "AGREEMENT.DATE_ORDER"} == {
        "ValidityWindow", "CustomerDiscountModel", "IncentiveRateModel"}
