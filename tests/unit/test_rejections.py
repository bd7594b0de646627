"""Every failure the pipeline turns into a rule maps to exactly one rule of schemas/rules.py, in
the area the failure belongs to, and reads the same for files and API records."""

import re
from pathlib import Path
from typing import get_args

import pytest

from pipelines.lib.rejections import FAILURE_RULES, failure_case_rule, reason, rule_for, rule_for_check, value_subject
from schemas.datasets import ColumnKind
from schemas.rules import RULES

PREFIX = {"file": "FILE.", "api": "API.", "delivery": "HOLD."}


@pytest.mark.parametrize(("area", "kind"), sorted(FAILURE_RULES))
def test_every_mapping_names_a_defined_rule_of_its_area(area, kind):
    rule_id = FAILURE_RULES[(area, kind)]
    assert rule_id in RULES
    assert RULES[rule_id].area == area
    assert rule_id.startswith(PREFIX[area])


def test_every_hold_rule_and_every_api_rejection_rule_is_reached_by_some_failure():
    reached = set(FAILURE_RULES.values())
    assert {r for r in RULES if r.startswith("HOLD.")} <= reached
    rejecting_api = {r.rule_id for r in RULES.values() if r.area == "api" and r.severity == "reject"}
    # API.MONEY_UNIT is a dataframe check named after its rule (schemas/api_common.py)
    assert rejecting_api - reached == {"API.MONEY_UNIT"}


def test_every_file_rejection_is_reached_by_some_failure():
    rejecting_files = {r for r in RULES if r.startswith("FILE.") and RULES[r].severity == "reject"}
    assert rejecting_files - set(FAILURE_RULES.values()) == set()


def test_the_archive_reader_names_no_rule_itself():
    """Archives and members refused unread take their rule from the one table, like every failure."""
    source = (Path(__file__).parents[2] / "pipelines" / "lib" / "archives.py").read_text(encoding="utf-8")
    assert re.findall(r"[\"']FILE\.[A-Z_.]+[\"']", source) == []


def test_every_column_kind_a_delivered_file_can_fail_to_parse_has_its_rule():
    parsed = set(get_args(ColumnKind)) - {"text", "enum"}   # text is kept as delivered; codes: the models
    assert {kind: rule_for("file", kind) for kind in parsed} == {
        "money": "FILE.PARSE.MONEY", "quantity": "FILE.PARSE.QUANTITY", "rate": "FILE.PARSE.RATE",
        "int": "FILE.PARSE.INT", "timestamp": "FILE.PARSE.TIME", "date": "FILE.PARSE.DATE", "cycle": "FILE.PARSE.CYCLE"}


@pytest.mark.parametrize(("area", "check", "context", "expected"), [
    ("file", "not_nullable", "Column", "FILE.REQUIRED"),
    ("file", "isin(['ON_DEMAND', 'YEARLY'])", "Column", "FILE.ENUM"),
    ("file", "str_length(None, 64)", "Column", "FILE.TOO_LONG"),
    ("file", "str_matches('^\\d{4}-(0[1-9]|1[0-2])$')", "Column", "FILE.PARSE.CYCLE"),
    ("file", "greater_than_or_equal_to(0)", "Column", "FILE.ENUM"),
    ("file", "BILL.AMOUNT_DUE_IDENTITY", "DataFrameSchema", "BILL.AMOUNT_DUE_IDENTITY"),
    ("api", "not_nullable", "Column", "API.REQUIRED"),
    ("api", "isin(['1', '2'])", "Column", "API.ENUM"),
    ("api", "str_length(None, 64)", "Column", "API.TOO_LONG"),
    ("api", "str_matches('^\\d{1,6}$')", "Column", "API.FORMAT"),
    ("api", "API.MONEY_UNIT", "DataFrameSchema", "API.MONEY_UNIT"),
    ("api", "API.ENUM", "DataFrameSchema", "API.ENUM"),
    ("api", "not_a_rule_name", "DataFrameSchema", "API.FORMAT"),
])
def test_a_failing_pandera_check_maps_to_one_rule(area, check, context, expected):
    assert rule_for_check(area, check, context) == expected


def test_a_rejected_value_reads_the_same_for_files_and_api_records():
    case = {"check": "not_nullable", "schema_context": "Column", "column": "customer_id", "failure_case": None}
    assert failure_case_rule("file", case) == ("FILE.REQUIRED", "customer_id: empty – required value is empty")
    assert failure_case_rule("api", case) == ("API.REQUIRED",
                                              "customer_id: empty – required field is missing or empty")
    case = {"check": "isin(['1'])", "schema_context": "Column", "column": "bill_type", "failure_case": "9"}
    assert failure_case_rule("file", case) == (
        "FILE.ENUM", "bill_type: '9' – value is not one of the documented codes")
    assert reason("API.PARSE.MONEY", value_subject("amount", "1.5e3")) == (
        "amount: '1.5e3' – amount is not a decimal with at most 8 places that fits DECIMAL(20,8)")
    assert reason("API.NOT_AN_OBJECT") == "the record is not a JSON object"


def test_a_kind_nobody_mapped_is_an_error_not_a_guess():
    with pytest.raises(KeyError):
        rule_for("file", "bool")
