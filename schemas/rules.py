"""Every rule: a stable id, the area it belongs to, a severity and a readable message.

A rule with severity `reject` sends the row to audit.quarantine; the others keep the row loaded
and write a finding to audit.findings (HUAWEI CLOUD's numbers are reported, never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Severity = Literal["reject", "error", "warning", "info"]


# A bill line's trade time (GMT+8) falls in its bill month, or on the 1st of the next month by
# 23:59:59, which HUAWEI CLOUD still bills to the month before. Usage reported late and lines settled
# after the month may stray a few days further; a time more than this many days outside that window
# is a finding, BILL.TRADE_TIME_OUTSIDE_CYCLE (year 1 or 9999 is no transaction time).
TRADE_TIME_TOLERANCE_DAYS = 7


# Where a rule's rows are found and read. The reconciliation areas are the `check_area` of
# marts.reconciliation_findings (docs/reconciliation.md); staging's arithmetic findings that the discount
# audit shows (BILL.AMOUNT_DUE_IDENTITY, …) belong to "discount". The others: rows of the delivered files
# ("file", audit.quarantine / audit.findings), BSS API records ("api") and held re-deliveries
# ("delivery", audit.held_deliveries).
CheckArea = Literal["tieout", "discount", "incentive", "budget", "coupon"]
Area = Literal["file", "api", "delivery", CheckArea]
CHECK_AREAS: tuple[str, ...] = get_args(CheckArea)
AREAS: tuple[str, ...] = get_args(Area)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    area: Area
    severity: Severity
    title: str
    action: str  # what the reader should do about it


RULES: dict[str, Rule] = {r.rule_id: r for r in [
    # whole objects or members that cannot be read: rejected, recorded, nothing from them loaded
    Rule("FILE.EMPTY_OBJECT", "file", "reject", "the object is empty (0 bytes)", "ask HUAWEI CLOUD for a re-delivery"),
    Rule("FILE.CORRUPT_ARCHIVE", "file", "reject", "the object is not a readable gzip tar archive",
         "ask HUAWEI CLOUD for a re-delivery"),
    Rule("FILE.UNSAFE_MEMBER_PATH", "file", "reject", "archive member path is absolute or contains '..'",
         "its lines are not loaded; ask HUAWEI CLOUD to re-deliver the file with plain member names"),
    Rule("FILE.NOT_CSV", "file", "reject", "archive member is not a CSV file",
         "nothing to do if it holds no lines (a folder, a note); otherwise ask HUAWEI CLOUD to re-deliver "
         "the file with its lines in .csv members"),
    Rule("FILE.MEMBER_TOO_LARGE", "file", "reject", "archive member exceeds the size limit",
         "raise BILLRECON_MAX_MEMBER_BYTES if the member is genuine and run the month again, "
         "or ask its sender to re-deliver the file"),
    Rule("FILE.ENCODING", "file", "reject", "the member is not UTF-8 text", "re-export the file as UTF-8"),
    Rule("FILE.MALFORMED_CSV", "file", "reject", "the member is not a readable CSV file", "ask for a re-delivery"),
    Rule("FILE.WRONG_DELIMITER", "file", "reject", "the file is not comma-separated", "re-export the file with commas"),
    Rule("FILE.DUPLICATE_HEADER", "file", "reject", "a column appears twice in the header", "re-export the file"),
    Rule("FILE.MEMBER_TOO_MANY_ROWS", "file", "reject", "archive member exceeds the row limit",
         "raise BILLRECON_MAX_MEMBER_ROWS if the member is genuine and run the month again, "
         "or ask its sender to re-deliver the file"),
    Rule("FILE.FIELD_COUNT", "file", "reject", "record has a different number of fields than the header",
         "check the quoting of the record in the source file"),
    Rule("FILE.DUPLICATE_LINE", "file", "reject", "line delivered twice in the same file",
         "the repeat is not counted; ask HUAWEI CLOUD to confirm"),
    Rule("FILE.NUL_BYTE", "file", "reject", "the record contains a NUL byte", "ask for a re-delivery"),
    Rule("FILE.MISSING_COLUMN", "file", "reject", "a required column is missing from the header",
         "check the header; add the spelling to schemas/aliases.py if HUAWEI CLOUD renamed it"),
    # rows that cannot be trusted structurally: quarantined
    Rule("FILE.PARSE.MONEY", "file", "reject", "money value is not a decimal with at most 8 places",
         "correct the value in the source file and re-deliver it"),
    Rule("FILE.PARSE.QUANTITY", "file", "reject", "quantity is not a decimal with at most 8 places",
         "correct the value in the source file and re-deliver it"),
    Rule("FILE.PARSE.RATE", "file", "reject", "rate is not a decimal between 0 and 1 with at most 6 places",
         "correct the agreement file"),
    Rule("FILE.PARSE.INT", "file", "reject", "value is not a whole number", "correct the value in the source file"),
    Rule("FILE.PARSE.TIME", "file", "reject",
         "time is not a valid 'YYYY-MM-DD HH:MM:SS[ GMT+08:00]' from 0001-01-01 08:00:00 on",
         "correct the time in the source file"),
    Rule("FILE.PARSE.DATE", "file", "reject", "date is not a valid 'YYYY-MM-DD' from 0001-01-01 on",
         "correct the date"),
    Rule("FILE.PARSE.CYCLE", "file", "reject", "billing cycle is not 'YYYY-MM'", "correct the billing cycle"),
    Rule("FILE.REQUIRED", "file", "reject", "required value is empty", "fill in the value in the source file"),
    Rule("FILE.ENUM", "file", "reject", "value is not one of the documented codes",
         "check the code; add it to the alias table in schemas/aliases.py if HUAWEI CLOUD introduced it"),
    Rule("FILE.TOO_LONG", "file", "reject", "value is longer than allowed", "correct the value"),
    Rule("BILL.CYCLE_MISMATCH", "file", "reject", "billing cycle differs from the month in the file name",
         "ask HUAWEI CLOUD to re-deliver the month; the line is not counted in either month"),
    Rule("AGREEMENT.RATE_RANGE", "file", "reject", "discount rate is outside 0..1", "correct the agreement file"),
    Rule("AGREEMENT.DATE_ORDER", "file", "reject", "valid_to is before valid_from", "correct the agreement file"),
    Rule("AGREEMENT.INCENTIVE_RATE_RANGE", "file", "reject", "incentive rate is outside 0..1",
         "correct agreements/incentive_rates.csv"),
    Rule("CHART.UNKNOWN_ACCOUNT", "file", "reject",
         "account is not one of the journal's accounts (docs/journal.md#chart-of-accounts)",
         "correct agreements/chart_of_accounts.csv; until then the default code of the account applies"),
    Rule("CHART.DUPLICATE_ACCOUNT", "file", "reject", "account is mapped twice in the chart of accounts",
         "keep one row per account in agreements/chart_of_accounts.csv; the first row applies"),
    Rule("STATEMENT.PERIOD_MISMATCH", "file", "reject", "reconciliation period differs from the month in the file name",
         "re-export the statement of that period; the line is not counted in either period"),
    # HUAWEI CLOUD's arithmetic: loaded, reported as findings
    Rule("BILL.AMOUNT_DUE_IDENTITY", "discount", "error", "amount due ≠ list price − discount − truncated amount",
         "raise it with HUAWEI CLOUD; the line is loaded as delivered"),
    Rule("BILL.PAYMENT_IDENTITY", "discount", "error",
         "amount due ≠ cash + monthly settlement + cash coupon + voucher + stored-value card + arrears + written-off",
         "raise it with HUAWEI CLOUD; the line is loaded as delivered"),
    Rule("BILL.REFUND_SIGN", "file", "error", "refund line has a positive amount", "raise it with HUAWEI CLOUD"),
    Rule("BILL.REFUND_WITHOUT_ORDER", "file", "warning", "refund line has no original order number",
         "raise it with HUAWEI CLOUD"),
    Rule("BILL.EXPENDITURE_SIGN", "file", "error", "expenditure line has a negative amount",
         "raise it with HUAWEI CLOUD"),
    Rule("BILL.TRADE_TIME_OUTSIDE_CYCLE", "file", "warning",
         f"trade time is more than {TRADE_TIME_TOLERANCE_DAYS} days outside the bill month (GMT+8; the 1st "
         "of the next month belongs to it)",
         "raise it with HUAWEI CLOUD; the line is loaded as delivered and counted in the file's month"),
    Rule("AGREEMENT.OVERLAP", "discount", "error", "two discount rules of equal specificity overlap in time",
         "fix the agreement file; the rule with the later valid_from is used meanwhile"),
    Rule("BILL.NO_AGREEMENT", "file", "warning", "no customer discount rule matches the line; billed at list price",
         "add a default '*' rule to agreements/customer_discounts.csv"),
]}


# The account's site and currency (partners.toml) against what a delivery or a pull says of itself
# (pipelines/lib/staging/account.py, pipelines/lib/bss/staging.py): one finding per delivery or snapshot.
RULES.update({r.rule_id: r for r in [
    Rule("FILE.HEADER_LANGUAGE", "file", "warning", "the file's headers are not in the language of the account's site",
         "check the account's site in partners.toml (cn: Chinese headers and the China SDK; intl: English)"),
    Rule("FILE.CURRENCY", "file", "error", "the file's amounts are not in the account's currency",
         "check the account's currency in partners.toml, or ask HUAWEI CLOUD for the file in that currency; "
         "until then the month's figures are in the file's currency, not the account's"),
    Rule("API.CURRENCY", "api", "error", "the API's amounts are not in the account's currency",
         "check the account's currency and site in partners.toml; until then these amounts are in the API's "
         "currency, not the account's"),
]})


# Held deliveries (pipelines/lib/holds.py): a re-delivery that would replace what a
# month was built from with something that cannot be trusted is held in audit.held_deliveries, one
# rule per reason, and the month keeps its current delivery until `billrecon accept` releases it.
RULES.update({r.rule_id: r for r in [
    Rule("HOLD.UNREADABLE", "delivery", "error",
         "the re-delivery cannot be read whole (the archive or a member is rejected)",
         "check the file with its sender; accept it only if what could be read is the whole month"),
    Rule("HOLD.LINE_DROP", "delivery", "error", "the re-delivery would remove a large share of the lines it replaces",
         "check the file with its sender, then accept it if the lines were really withdrawn"),
    Rule("HOLD.CUSTOMER_DROP", "delivery", "error",
         "the re-delivery would remove a large share of the month's customers",
         "check the file with its sender, then accept it if those customers really have no lines"),
    Rule("HOLD.AGREEMENT_LOSS", "delivery", "error",
         "the re-delivered agreements would leave bill lines without the agreement they are billed at now",
         "check the agreements file, then accept it if those customers are really to be billed at list price"),
]})


# BSS API records (pipelines/lib/bss): the same treatment as file rows. A record that cannot be typed
# or breaks a structural rule goes to audit.quarantine (source 'api:<dataset>', record_number = its
# position in the snapshot); HUAWEI CLOUD's arithmetic is reported in audit.findings.
RULES.update({r.rule_id: r for r in [
    Rule("API.NOT_AN_OBJECT", "api", "reject", "the record is not a JSON object", "raise it with HUAWEI CLOUD"),
    Rule("API.PARSE.MONEY", "api", "reject", "amount is not a decimal with at most 8 places that fits DECIMAL(20,8)",
         "raise it with HUAWEI CLOUD; the record is not counted"),
    Rule("API.PARSE.INT", "api", "reject", "value is not a whole number", "raise it with HUAWEI CLOUD"),
    Rule("API.PARSE.TIME", "api", "reject", "time is not UTC 'yyyy-MM-ddTHH:mm:ssZ'", "raise it with HUAWEI CLOUD"),
    Rule("API.PARSE.BOOL", "api", "reject", "value is not a yes/no flag", "raise it with HUAWEI CLOUD"),
    Rule("API.REQUIRED", "api", "reject", "required field is missing or empty", "raise it with HUAWEI CLOUD"),
    Rule("API.ENUM", "api", "reject", "value is not one of the documented codes",
         "check the code; extend the model in schemas/api_*.py if HUAWEI CLOUD introduced it"),
    Rule("API.FORMAT", "api", "reject", "value does not have the documented format", "raise it with HUAWEI CLOUD"),
    Rule("API.TOO_LONG", "api", "reject", "value is longer than allowed", "raise it with HUAWEI CLOUD"),
    Rule("API.MONEY_UNIT", "api", "reject", "amounts are not in major currency units (measure_id is not 1)",
         "convert the record by hand; the v2 APIs document measure_id 1 only"),
    Rule("API.DUPLICATE_RECORD", "api", "reject", "the same record came back twice in one pull",
         "the repeat is not counted; re-run the pull if it persists"),
    Rule("API.CYCLE_MISMATCH", "api", "reject", "the record names another bill cycle than the one asked for",
         "the record is not counted in either month; raise it with HUAWEI CLOUD"),
    Rule("API.PARTNER_BILL_IDENTITY", "api", "error",
         "initial_amount_due ≠ consume_amount + refunds + adjustments", "raise it with HUAWEI CLOUD"),
    Rule("API.CREDIT_IDENTITY", "api", "error",
         "used_consumption_quota ≠ due_amount + unbilled_amount − amount − coupon_amount",
         "raise it with HUAWEI CLOUD"),
]})


# Reconciliation findings (docs/reconciliation.md): computed by the SQL models of sql/core and sql/marts
# into marts.reconciliation_findings. Severity: `error` where two sides' money disagrees (or money was
# paid that should not have been), `warning` where a rule of the programme or of the partner's own
# terms is broken. Each finding's message names the amounts, then the rule's title and action.
RULES.update({r.rule_id: r for r in [
    Rule("TIEOUT.PARTNER_BILL", "tieout", "error", "the bill file does not add up to HUAWEI CLOUD's monthly bill",
         "compare the bill file with the monthly bill in Partner Center; ask HUAWEI CLOUD to re-deliver "
         "the file or to correct the bill"),
    Rule("TIEOUT.CUSTOMER_AMOUNT", "tieout", "error",
         "the customer's total in the bill file differs from HUAWEI CLOUD's customer monthly sum",
         "compare the customer's lines with its monthly sums; raise the difference with HUAWEI CLOUD"),
    Rule("TIEOUT.CUSTOMER_MISSING_IN_API", "tieout", "error",
         "the customer has lines in the bill file but no monthly sum in the API",
         "ask HUAWEI CLOUD why the customer's monthly sums are missing"),
    Rule("TIEOUT.CUSTOMER_MISSING_IN_FILE", "tieout", "error",
         "the API has a monthly sum for a customer without lines in the bill file",
         "ask HUAWEI CLOUD for the missing lines (or a re-delivery of the bill file)"),
    Rule("DISCOUNT.PARTNER_DISCOUNT_ON_RESALE", "discount", "warning",
         "partner-set (607) or price-adjustment (609) discount on a resale customer",
         "resale customers may not get partner discounts: find who set it and raise it with HUAWEI CLOUD"),
    Rule("DISCOUNT.NOT_ALLOWED", "discount", "warning", "discount on a service whose incentive policy allows none",
         "check the discount with HUAWEI CLOUD; it may change the service's incentive"),
    Rule("DISCOUNT.RATE_MISMATCH", "discount", "error",
         "the commercial (605) discount differs from list price × the contract discount rate",
         "compare with the commercial discount in Partner Center; claim the difference from HUAWEI CLOUD"),
    Rule("DISCOUNT.NEGATIVE_MARGIN", "discount", "warning",
         "the customer is billed less than HUAWEI CLOUD charges the partner for the service",
         "review the customer's discount agreement for the service"),
    Rule("REFUND.ORIGINAL_ORDER_UNKNOWN", "discount", "warning",
         "a refund's original order is in no loaded bill file and no order pulled from the API",
         "the refund is billed grossed up with the commercial discount; load the bill file of the order's "
         "month (or run its month for the API's orders) to bill it from the order"),
    Rule("AGREEMENT.EXPIRED", "discount", "warning",
         "the customer's discount rule ended but the customer still buys in its scope",
         "renew or close the rule in agreements/customer_discounts.csv; meanwhile a broader rule applies"),
    Rule("INCENTIVE.AMOUNT_MISMATCH", "incentive", "error",
         "the incentive statement differs from the incentive computed from the bill lines",
         "reject the statement line in Partner Center before the deadline, with the computation"),
    Rule("INCENTIVE.MISSING_IN_STATEMENT", "incentive", "error",
         "a service that earns an incentive has no line in the incentive statement",
         "claim the missing incentive from HUAWEI CLOUD before the statement is auto-confirmed"),
    Rule("INCENTIVE.EXTRA_IN_STATEMENT", "incentive", "error",
         "the incentive statement has a line for a service without eligible performance",
         "check the line with HUAWEI CLOUD; an incentive paid in error is clawed back later"),
    Rule("BUDGET.OVER_NOT_FROZEN", "budget", "warning", "the customer spent its whole budget and is not frozen",
         "freeze the customer or raise its budget"),
    Rule("COUPON.USED_AFTER_EXPIRY", "coupon", "error",
         "a bill line was paid by a coupon type the customer held no valid coupon of",
         "ask HUAWEI CLOUD which coupon paid the line"),
    Rule("COUPON.USED_BEYOND_BALANCE", "coupon", "error",
         "the bill lines were paid by more coupon money than the customer's coupons of that type gave",
         "compare the coupons' usage records with the bill lines; raise the excess with HUAWEI CLOUD"),
]})


def reconciliation_rules() -> list[Rule]:
    """The rules whose findings land in marts.reconciliation_findings, by id."""
    return [r for _, r in sorted(RULES.items()) if r.area in CHECK_AREAS]


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
