"""Every validation rule of the file datasets: a stable id, a severity and a readable message.

A rule with severity `reject` sends the row to audit.quarantine; the others keep the row loaded
and write a finding to audit.findings (HUAWEI CLOUD's numbers are reported, never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["reject", "error", "warning", "info"]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: Severity
    title: str
    action: str  # what the reader should do about it


RULES: dict[str, Rule] = {r.rule_id: r for r in [
    # whole objects or members that cannot be read: rejected, recorded, nothing from them loaded
    Rule("FILE.EMPTY_OBJECT", "reject", "the object is empty (0 bytes)", "ask HUAWEI CLOUD for a re-delivery"),
    Rule("FILE.CORRUPT_ARCHIVE", "reject", "the object is not a readable gzip tar archive",
         "ask HUAWEI CLOUD for a re-delivery"),
    Rule("FILE.UNSAFE_MEMBER_PATH", "reject", "archive member path is absolute or contains '..'",
         "the member is ignored; ask for a re-delivery"),
    Rule("FILE.NOT_CSV", "reject", "archive member is not a CSV file", "the member is ignored"),
    Rule("FILE.MEMBER_TOO_LARGE", "reject", "archive member exceeds the size limit",
         "raise BILLRECON_MAX_MEMBER_BYTES if the member is genuine"),
    Rule("FILE.ENCODING", "reject", "the member is not UTF-8 text", "re-export the file as UTF-8"),
    Rule("FILE.MALFORMED_CSV", "reject", "the member is not a readable CSV file", "ask for a re-delivery"),
    Rule("FILE.WRONG_DELIMITER", "reject", "the file is not comma-separated", "re-export the file with commas"),
    Rule("FILE.DUPLICATE_HEADER", "reject", "a column appears twice in the header", "re-export the file"),
    Rule("FILE.MEMBER_TOO_MANY_ROWS", "reject", "archive member exceeds the row limit",
         "raise BILLRECON_MAX_MEMBER_ROWS if the member is genuine"),
    Rule("FILE.FIELD_COUNT", "reject", "record has a different number of fields than the header",
         "check the quoting of the record in the source file"),
    Rule("FILE.DUPLICATE_LINE", "reject", "line delivered twice in the same file",
         "the repeat is not counted; ask HUAWEI CLOUD to confirm"),
    Rule("FILE.NUL_BYTE", "reject", "the record contains a NUL byte", "ask for a re-delivery"),
    Rule("FILE.MISSING_COLUMN", "reject", "a required column is missing from the header",
         "check the header; add the spelling to schemas/aliases.py if HUAWEI CLOUD renamed it"),
    # rows that cannot be trusted structurally: quarantined
    Rule("FILE.PARSE.MONEY", "reject", "money value is not a decimal with at most 8 places",
         "correct the value in the source file and re-deliver it"),
    Rule("FILE.PARSE.QUANTITY", "reject", "quantity is not a decimal with at most 8 places",
         "correct the value in the source file and re-deliver it"),
    Rule("FILE.PARSE.RATE", "reject", "rate is not a decimal between 0 and 1 with at most 6 places",
         "correct the agreement file"),
    Rule("FILE.PARSE.INT", "reject", "value is not a whole number", "correct the value in the source file"),
    Rule("FILE.PARSE.TIME", "reject", "time is not a valid 'YYYY-MM-DD HH:MM:SS[ GMT+08:00]'",
         "correct the time in the source file"),
    Rule("FILE.PARSE.DATE", "reject", "date is not a valid 'YYYY-MM-DD'", "correct the date"),
    Rule("FILE.PARSE.CYCLE", "reject", "billing cycle is not 'YYYY-MM'", "correct the billing cycle"),
    Rule("FILE.REQUIRED", "reject", "required value is empty", "fill in the value in the source file"),
    Rule("FILE.ENUM", "reject", "value is not one of the documented codes",
         "check the code; add it to the alias table in schemas/aliases.py if HUAWEI CLOUD introduced it"),
    Rule("FILE.TOO_LONG", "reject", "value is longer than allowed", "correct the value"),
    Rule("BILL.CYCLE_MISMATCH", "reject", "billing cycle differs from the month in the file name",
         "ask HUAWEI CLOUD to re-deliver the month; the line is not counted in either month"),
    Rule("AGREEMENT.RATE_RANGE", "reject", "discount rate is outside 0..1", "correct the agreement file"),
    Rule("AGREEMENT.DATE_ORDER", "reject", "valid_to is before valid_from", "correct the agreement file"),
    # HUAWEI CLOUD's arithmetic: loaded, reported as findings
    Rule("BILL.AMOUNT_DUE_IDENTITY", "error", "amount due ≠ list price − discount − truncated amount",
         "raise it with HUAWEI CLOUD; the line is loaded as delivered"),
    Rule("BILL.PAYMENT_IDENTITY", "error",
         "amount due ≠ cash + monthly settlement + cash coupon + voucher + stored-value card + arrears + written-off",
         "raise it with HUAWEI CLOUD; the line is loaded as delivered"),
    Rule("BILL.REFUND_SIGN", "error", "refund line has a positive amount", "raise it with HUAWEI CLOUD"),
    Rule("BILL.REFUND_WITHOUT_ORDER", "warning", "refund line has no original order number",
         "raise it with HUAWEI CLOUD"),
    Rule("BILL.EXPENDITURE_SIGN", "error", "expenditure line has a negative amount", "raise it with HUAWEI CLOUD"),
    Rule("AGREEMENT.OVERLAP", "error", "two discount rules of equal specificity overlap in time",
         "fix the agreement file; the rule with the later valid_from is used meanwhile"),
    Rule("BILL.NO_AGREEMENT", "warning", "no customer discount rule matches the line; billed at list price",
         "add a default '*' rule to agreements/customer_discounts.csv"),
]}


# BSS API records (pipelines/lib/bss): the same treatment as file rows. A record that cannot be typed
# or breaks a structural rule goes to audit.quarantine (source 'api:<dataset>', record_number = its
# position in the snapshot); HUAWEI CLOUD's arithmetic is reported in audit.findings.
RULES.update({r.rule_id: r for r in [
    Rule("API.NOT_AN_OBJECT", "reject", "the record is not a JSON object", "raise it with HUAWEI CLOUD"),
    Rule("API.PARSE.MONEY", "reject", "amount is not a decimal with at most 8 places that fits DECIMAL(20,8)",
         "raise it with HUAWEI CLOUD; the record is not counted"),
    Rule("API.PARSE.INT", "reject", "value is not a whole number", "raise it with HUAWEI CLOUD"),
    Rule("API.PARSE.TIME", "reject", "time is not UTC 'yyyy-MM-ddTHH:mm:ssZ'", "raise it with HUAWEI CLOUD"),
    Rule("API.PARSE.BOOL", "reject", "value is not a yes/no flag", "raise it with HUAWEI CLOUD"),
    Rule("API.REQUIRED", "reject", "required field is missing or empty", "raise it with HUAWEI CLOUD"),
    Rule("API.ENUM", "reject", "value is not one of the documented codes",
         "check the code; extend the model in schemas/api_*.py if HUAWEI CLOUD introduced it"),
    Rule("API.FORMAT", "reject", "value does not have the documented format", "raise it with HUAWEI CLOUD"),
    Rule("API.TOO_LONG", "reject", "value is longer than allowed", "raise it with HUAWEI CLOUD"),
    Rule("API.MONEY_UNIT", "reject", "amounts are not in major currency units (measure_id is not 1)",
         "convert the record by hand; the v2 APIs document measure_id 1 only"),
    Rule("API.DUPLICATE_RECORD", "reject", "the same record came back twice in one pull",
         "the repeat is not counted; re-run the pull if it persists"),
    Rule("API.CYCLE_MISMATCH", "reject", "the record names another bill cycle than the one asked for",
         "the record is not counted in either month; raise it with HUAWEI CLOUD"),
    Rule("API.PARTNER_BILL_IDENTITY", "error",
         "initial_amount_due ≠ consume_amount + refunds + adjustments", "raise it with HUAWEI CLOUD"),
    Rule("API.CREDIT_IDENTITY", "error",
         "used_consumption_quota ≠ due_amount + unbilled_amount − amount − coupon_amount",
         "raise it with HUAWEI CLOUD"),
]})


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
