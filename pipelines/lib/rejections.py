"""Which rule a failure is, and how its reason reads: one table for the whole pipeline.

Each kind of failure that is turned into a rule — a member that cannot be read as CSV, a record
that cannot be read as a row, a value of a column kind that does not parse, a pandera check that
fails, an API record that cannot be staged, a re-delivery that is held — is a key (area, kind) of
`FAILURE_RULES`, mapped to exactly one rule of schemas/rules.py of that area.
"""

from __future__ import annotations

from schemas.rules import RULES, Area, rule

FAILURE_RULES: dict[tuple[Area, str], str] = {
    # an object or archive member refused unread (pipelines/lib/archives.py)
    ("file", "empty_object"): "FILE.EMPTY_OBJECT",
    ("file", "corrupt_archive"): "FILE.CORRUPT_ARCHIVE",
    ("file", "unsafe_member_path"): "FILE.UNSAFE_MEMBER_PATH",
    ("file", "not_csv"): "FILE.NOT_CSV",
    ("file", "member_too_large"): "FILE.MEMBER_TOO_LARGE",
    # a member that cannot be read as CSV at all (pipelines/lib/csv_reading.py, parsing.py)
    ("file", "encoding"): "FILE.ENCODING",
    ("file", "malformed_csv"): "FILE.MALFORMED_CSV",
    ("file", "wrong_delimiter"): "FILE.WRONG_DELIMITER",
    ("file", "duplicate_header"): "FILE.DUPLICATE_HEADER",
    ("file", "missing_column"): "FILE.MISSING_COLUMN",
    ("file", "member_too_many_rows"): "FILE.MEMBER_TOO_MANY_ROWS",
    # a delivered record that cannot be read as one row
    ("file", "field_count"): "FILE.FIELD_COUNT",
    ("file", "nul_byte"): "FILE.NUL_BYTE",
    # a delivered value of a column kind (schemas/datasets.py) that does not parse
    ("file", "money"): "FILE.PARSE.MONEY",
    ("file", "quantity"): "FILE.PARSE.QUANTITY",
    ("file", "rate"): "FILE.PARSE.RATE",
    ("file", "int"): "FILE.PARSE.INT",
    ("file", "timestamp"): "FILE.PARSE.TIME",
    ("file", "date"): "FILE.PARSE.DATE",
    ("file", "cycle"): "FILE.PARSE.CYCLE",
    # an API value that cannot be typed (pipelines/lib/bss/records.py)
    ("api", "money"): "API.PARSE.MONEY",
    ("api", "int"): "API.PARSE.INT",
    ("api", "timestamp"): "API.PARSE.TIME",
    ("api", "bool"): "API.PARSE.BOOL",
    # a failing pandera column check, by the start of its name; `other_check` for any other check
    ("file", "not_nullable"): "FILE.REQUIRED",
    ("file", "isin"): "FILE.ENUM",
    ("file", "str_length"): "FILE.TOO_LONG",
    ("file", "str_matches"): "FILE.PARSE.CYCLE",   # the files' only pattern is a bill cycle
    ("file", "other_check"): "FILE.ENUM",
    ("api", "not_nullable"): "API.REQUIRED",
    ("api", "isin"): "API.ENUM",
    ("api", "str_length"): "API.TOO_LONG",
    ("api", "str_matches"): "API.FORMAT",
    ("api", "other_check"): "API.FORMAT",
    # an API record that cannot be staged whole
    ("api", "not_an_object"): "API.NOT_AN_OBJECT",
    ("api", "cycle_mismatch"): "API.CYCLE_MISMATCH",
    ("api", "duplicate_record"): "API.DUPLICATE_RECORD",
    # a bill line delivered twice in one file
    ("file", "duplicate_line"): "FILE.DUPLICATE_LINE",
    # a re-delivery held, by what it would do (pipelines/lib/holds.py)
    ("delivery", "unreadable"): "HOLD.UNREADABLE",
    ("delivery", "line_drop"): "HOLD.LINE_DROP",
    ("delivery", "customer_drop"): "HOLD.CUSTOMER_DROP",
    ("delivery", "agreement_loss"): "HOLD.AGREEMENT_LOSS",
}

_COLUMN_CHECKS = ("not_nullable", "isin", "str_length", "str_matches")


def rule_for(area: Area, kind: str) -> str:
    """The rule id of a kind of failure in an area (a KeyError names a kind nobody mapped)."""
    return FAILURE_RULES[(area, kind)]


def rule_for_check(area: Area, check: str, context: str) -> str:
    """The rule id of a failing pandera check. A dataframe check is named after its rule (every
    model's checks are, schemas/checks.py `rule_check`); a column check maps by the start of its name."""
    if context != "Column":
        return check if check in RULES else rule_for(area, "other_check")
    kind = next((k for k in _COLUMN_CHECKS if check.startswith(k)), "other_check")
    return rule_for(area, kind)


def reason(rule_id: str, subject: str | None = None) -> str:
    """The reason a row is rejected: what failed (`subject`, e.g. "amount: 'x'") – the rule's title."""
    title = rule(rule_id).title
    return f"{subject} – {title}" if subject else title


def value_subject(column: str, value: object) -> str:
    """A rejected value as a reason names it: "column: 'value'", or "column: empty"."""
    return f"{column}: empty" if value is None else f"{column}: '{value}'"


def with_action(rule_id: str, message: str) -> str:
    """A rejected member's message followed by what to do about it (the rule's action)."""
    return f"{message} — {rule(rule_id).action}"


def failure_case_rule(area: Area, case: dict) -> tuple[str, str]:
    """The rule id and reason of one failing pandera case (a row of SchemaErrors.failure_cases)."""
    rule_id = rule_for_check(area, case["check"], case["schema_context"])
    if case["schema_context"] == "Column":
        return rule_id, reason(rule_id, value_subject(case["column"], case["failure_case"]))
    return rule_id, reason(rule_id)
