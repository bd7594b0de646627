"""The warehouse's public contract: every table analysts and reports read (marts.*, and the audit tables
analysts read), with its grain and meaning, and every column with its meaning and unit.

This is the one home of that contract. From it come:
- the README's table of the warehouse (`python -m schemas.warehouse_contract --write-readme`,
  or `make readme`), checked up to date by a test;
- the `COMMENT ON TABLE/COLUMN` of the warehouse (`Table.comment`, `Column.note`), applied when a
  model is built and before the snapshot is published (pipelines/lib/warehouse.py `apply_comments`),
  so `duckdb_columns()` shows them to analysts;
- the notes on the XLSX column headers (`column_note`).

Units: money is USD, `DECIMAL(20,8)` for a line's amounts and `DECIMAL(38,8)` for every sum, difference
of sums and finding amount; a fraction is a ratio where 1 means 100 % (columns named
`*_ratio`, and discount and incentive rates); nothing in the warehouse is a percent.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from schemas.focus import COLUMN_TYPES as FOCUS_COLUMN_TYPES
from schemas.focus import CUSTOM_PREFIX as FOCUS_CUSTOM_PREFIX

USD = "USD"
RATIO = "ratio, 1 = 100 %"
COUNT = "count"
DAYS = "days"
CYCLE = "YYYY-MM"
DATE_GMT8 = "date, GMT+8"
TIMESTAMP = "timestamp with time zone"
TIMESTAMP_UTC = "timestamp with time zone, UTC"


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    unit: str | None = None

    def note(self) -> str:
        """The column's meaning, with its unit in brackets when it has one."""
        return f"{self.meaning} [{self.unit}]" if self.unit else self.meaning


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    grain: str
    meaning: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    def comment(self) -> str:
        return f"{self.meaning} Grain: {self.grain}."


# The published snapshot's marker (pipelines/lib/publish.py): the tables only the snapshot has
SNAPSHOT_TABLE = "audit.snapshot"
SNAPSHOT_ONLY = frozenset({SNAPSHOT_TABLE})


def _table(name: str, grain: str, meaning: str, *columns: Column) -> Table:
    return Table(name, grain, meaning, columns)


# Columns that mean the same in every table that has them.
BILL_CYCLE = Column("bill_cycle", "the bill cycle (month) the row belongs to", CYCLE)
CUSTOMER_ID = Column("customer_id", "HUAWEI CLOUD customer account id")
CUSTOMER_NAME = Column("customer_name", "the customer's name")
PARTNER_ID = Column("partner_id", "the reseller (indirect partner) the customer belongs to; null for the "
                                  "partner's own customers")
INDIRECT_PARTNER_ID = Column("indirect_partner_id", "the reseller (indirect partner) the API listed the row "
                                                    "under; null for the partner's own customers")
SERVICE_TYPE_CODE = Column("service_type_code", "HUAWEI CLOUD service type code, e.g. hws.service.type.ebs")
SERVICE_TYPE_NAME = Column("service_type_name", "the service type's name")
OBJECT_KEY = Column("object_key", "key of the delivered object in the bucket (or inbox folder)")
ETAG = Column("etag", "the delivery's ETag (a re-delivery under the same key has a new one)")
SOURCE = Column("source", "the source: customerBill, customerUsage, agreements, incentives, or api:<dataset>")
MEMBER = Column("member", "the file inside the archive; null for a row about the whole object")
STATUS_OF_TIEOUT = Column("status", "matched (equal to the cent), mismatch, missing_in_api or missing_in_file")
FILE_AMOUNT = Column("file_amount", "the bill file's side", USD)
API_AMOUNT = Column("api_amount", "HUAWEI CLOUD's side from the BSS API", USD)
TIEOUT_DIFFERENCE = Column("difference_amount", "api_amount − file_amount (nulls count as 0)", USD)
BILL_FILE_PRESENT = Column("bill_file_present", "whether the cycle's bill file has been delivered")
AS_OF_DATE = Column("as_of_date", "the open month's newest usage export date the row is measured at",
                    DATE_GMT8)

DELIVERY_CYCLE = Column("bill_cycle", "the bill cycle of the delivery; null for sources of no cycle", CYCLE)
ROWS_READ = Column("rows_read", "data rows read", COUNT)
ROWS_LOADED = Column("rows_loaded", "rows loaded into staging", COUNT)
ROWS_QUARANTINED = Column("rows_quarantined", "rows put in audit.quarantine", COUNT)
SHA256 = Column("sha256", "SHA-256 of the delivered object")
PREVIOUS_ETAG = Column("previous_etag", "ETag of the delivery that was replaced")
NEW_ETAG = Column("new_etag", "ETag of the delivery that replaced it")
RESTATED_AT = Column("restated_at", "when the re-delivery was loaded", TIMESTAMP)
TRADE_ID = Column("trade_id", "HUAWEI CLOUD's trade (bill line) id")
RESOURCE_ID = Column("resource_id", "the resource's id")
RULE_ID = Column("rule_id", "the rule's stable id: audit.rules says what it means and what to do")
ACCOUNT = Column("account", "the journal's account, e.g. revenue, customer_receivable, huawei_payable")
ACCOUNT_NAME = Column("account_name", "the account's name in the partner's ledger")
ACCOUNT_SECTION = Column("section", "margin (revenue and cost of sales), outside_margin (incentives, HUAWEI "
                                    "CLOUD's adjustments) or balance_sheet")

# The columns of every reconciliation finding (marts.reconciliation_findings, marts.discount_audit).
FINDING_COLUMNS = (
    Column("rule_id", "the rule's stable id: audit.rules says what it means and what to do "
                      "(docs/reconciliation.md)"),
    Column("severity", "error, warning or info"),
    Column("bill_cycle", "the bill cycle of the finding; null when it belongs to no cycle (agreement "
                         "overlaps, coupons used beyond their balance)", CYCLE),
    Column("customer_id", "the customer concerned; null for partner-level findings"),
    Column("reference", "what the finding is about: trade id, order id, coupon id, service type code or "
                        "agreement rule"),
    Column("expected", "our computation or the authoritative side; a rate or an amount, by rule"),
    Column("actual", "what was delivered or charged; same unit as expected"),
    Column("difference_amount", "actual − expected, the amount the finding is about (null when it has "
                                "none)", USD),
    Column("message", "the finding in words, with the action it asks for"),
    Column("check_area", "tieout, discount, incentive, budget or coupon"),
)

# The source position of a row in audit.findings and audit.quarantine.
SOURCE_POSITION = (
    Column("load_id", "the staging load that read the row (audit.loads)"),
    SOURCE,
    OBJECT_KEY,
    MEMBER,
    DELIVERY_CYCLE,
    Column("line_number", "physical line in the member where the record starts (header = line 1); null "
                          "for a whole member or object"),
    Column("record_number", "data record ordinal (1 = first row after the header)"),
)


# --- the FOCUS 1.2 views (docs/focus.md) ---------------------------------------------------------
# Their columns' data types and allowed values are in schemas/focus.py; a column's unit follows from its
# FOCUS type there: a Date/Time is a UTC timestamp, a Decimal cost is USD, a quantity is in the unit its
# *Unit column names. Custom columns (x_) are not FOCUS's: their unit is given here.


def _focus(name: str, meaning: str, unit: str | None = None) -> Column:
    """A column of the FOCUS views: a FOCUS 1.2 column of schemas/focus.py, or a custom x_ column."""
    kind = FOCUS_COLUMN_TYPES.get(name)
    if kind is None and not name.startswith(FOCUS_CUSTOM_PREFIX):
        raise ValueError(f"{name} is neither a FOCUS column of schemas/focus.py "
                         f"nor a custom {FOCUS_CUSTOM_PREFIX} one")
    if unit is None and kind == "Date/Time":
        unit = TIMESTAMP_UTC
    elif unit is None and kind == "Decimal" and name.endswith("Cost"):
        unit = USD
    elif unit is None and kind == "Decimal" and name.endswith("Quantity"):
        unit = name.removesuffix("Quantity") + "Unit"
    return Column(name, meaning, unit)


# The columns of core.focus_charge both views pass on, in its order: the same meaning in each.
FOCUS_CHARGE_COLUMNS = (
    _focus("BillingCurrency", "the currency of HUAWEI CLOUD's monthly bill (BSS API); USD without the API"),
    _focus("BillingPeriodEnd", "end of the bill cycle (the GMT+8 month), exclusive"),
    _focus("BillingPeriodStart", "start of the bill cycle (the GMT+8 month), inclusive"),
    _focus("ChargeCategory", "Usage, Purchase or Adjustment; a refund keeps the category of the charge it "
                             "refunds, with negative amounts"),
    _focus("ChargeClass", "Correction for a refund of an order invoiced in an earlier month; null otherwise"),
    _focus("ChargeDescription", "the product's name and specification"),
    _focus("ChargeFrequency", "One-Time (subscriptions, adjustments), Recurring (RI and savings-plan hourly "
                              "fees) or Usage-Based"),
    _focus("ChargePeriodStart", "start of the term bought for a subscription, else of the GMT+8 day of the "
                                "charge, inclusive"),
    _focus("ChargePeriodEnd", "end of the charge period, exclusive"),
    _focus("CommitmentDiscountCategory", "Usage (reserved instance) or Spend (savings plan); null for other "
                                         "lines"),
    _focus("CommitmentDiscountId", "the reserved instance's or savings plan's resource id; null for other "
                                   "lines"),
    _focus("CommitmentDiscountName", "the reserved instance's or savings plan's name"),
    _focus("CommitmentDiscountQuantity", "on a commitment's purchase rows, the quantity bought: hours of the "
                                         "fee, or the term"),
    _focus("CommitmentDiscountType", "Reserved Instance or Savings Plan"),
    _focus("CommitmentDiscountUnit", "unit of CommitmentDiscountQuantity"),
    _focus("ConsumedQuantity", "the usage amount, on Usage rows"),
    _focus("ConsumedUnit", "unit of ConsumedQuantity, in FOCUS's format (sql/seeds/focus_pricing_unit.csv)"),
    _focus("PricingCategory", "Standard, Dynamic (spot instances) or Committed (usage paid by a savings "
                              "plan); null on adjustments"),
    _focus("PricingQuantity", "subscriptions: the term (1 Month, 1 Year); other lines: the usage amount; "
                              "null on adjustments"),
    _focus("PricingUnit", "unit of PricingQuantity, in FOCUS's format (sql/seeds/focus_pricing_unit.csv)"),
    _focus("RegionId", "HUAWEI CLOUD region code"),
    _focus("RegionName", "the region's name (the code when the file has no name)"),
    _focus("ResourceId", "the resource's id"),
    _focus("ResourceName", "the resource's name; null when it only repeats the id"),
    _focus("ResourceType", "the resource type's name"),
    _focus("ServiceCategory", "FOCUS service category of the service type "
                              "(sql/seeds/focus_service_category.csv; Other when it is not there)"),
    _focus("ServiceName", "the service type's name"),
    _focus("ServiceSubcategory", "FOCUS service subcategory of the service type (Other (Other) when it is "
                                 "not mapped)"),
    _focus("ProviderName", "HUAWEI CLOUD"),
    _focus("PublisherName", "HUAWEI CLOUD"),
    _focus("SkuId", "HUAWEI CLOUD product id (one priced offer); null on adjustments"),
    _focus("SkuMeter", "the line's usage type; null on adjustments"),
    _focus("SkuPriceId", "HUAWEI CLOUD product id; null on adjustments"),
    _focus("x_BillCycle", "the bill cycle (GMT+8 month) of the line", CYCLE),
    _focus("x_BillType", "Expenditure, Refund or Adjustment"),
    _focus("x_BillingMode", "the bill file's billing mode code (docs/formats.md#billing-mode-codes)"),
    _focus("x_OrderType", "the bill file's order type: New, Renew, Change, Unsubscribe or Fee adjustment"),
    _focus("x_TradeId", "HUAWEI CLOUD's trade (bill line) id"),
    _focus("x_OriginalOrderId", "for a refund, the order it gives money back for"),
    _focus("x_ServiceTypeCode", "HUAWEI CLOUD service type code, e.g. hws.service.type.ebs"),
    _focus("x_ResourceTypeCode", "HUAWEI CLOUD resource type code"),
    _focus("x_ResellerId", "the reseller (indirect partner) the customer belongs to; null for the partner's "
                           "own customers"),
    _focus("x_ResellerName", "the reseller's name"),
    _focus("x_SourceMember", "the bill file member the line was read from"),
    _focus("x_SourceRecord", "the line's data record ordinal in that member"),
)
FOCUS_LIST_COST = _focus("ListCost", "list price (official_amount)")


TABLES: tuple[Table, ...] = (
    _table(
        "marts.customer_monthly_expenditure", "bill_cycle × customer × service type",
        "What each customer consumed, what HUAWEI CLOUD charged the partner for it, what the partner "
        "bills the customer at the agreed discount, and the margin.",
        BILL_CYCLE, CUSTOMER_ID, CUSTOMER_NAME, PARTNER_ID,
        Column("partner_name", "the reseller's name"),
        SERVICE_TYPE_CODE, SERVICE_TYPE_NAME,
        Column("line_count", "bill lines of every type", COUNT),
        Column("expenditure_line_count", "Expenditure lines", COUNT),
        Column("refund_line_count", "Refund lines", COUNT),
        Column("adjustment_line_count", "Adjustment lines", COUNT),
        Column("official_amount", "Σ list price of the Expenditure lines", USD),
        Column("discount_amount", "Σ HUAWEI CLOUD's discount on the Expenditure lines", USD),
        Column("truncated_amount", "Σ amount truncated below the cent on the Expenditure lines", USD),
        Column("amount_due", "Σ amount due to HUAWEI CLOUD of the Expenditure lines", USD),
        Column("cash_amount", "Σ paid in cash, Expenditure lines", USD),
        Column("credit_amount", "Σ paid by monthly settlement (credit), Expenditure lines", USD),
        Column("cash_coupon_amount", "Σ paid by cash coupons, Expenditure lines", USD),
        Column("voucher_amount", "Σ paid by vouchers, Expenditure lines", USD),
        Column("stored_card_amount", "Σ paid by stored-value cards, Expenditure lines", USD),
        Column("coupon_paid_amount", "cash_coupon_amount + voucher_amount + stored_card_amount", USD),
        Column("debt_amount", "Σ left in arrears, Expenditure lines", USD),
        Column("refund_amount", "Σ amount due of the Refund lines (negative)", USD),
        Column("adjustment_amount", "Σ amount due of the Adjustment lines; stays between HUAWEI CLOUD and "
                                    "the partner", USD),
        Column("customer_charge_amount", "what the partner bills the customer: list price × (1 − the "
                                         "agreed discount rate) on Expenditure lines, less what refunds give "
                                         "back", USD),
        Column("customer_refund_amount", "the part of customer_charge_amount given back on Refund lines "
                                         "(negative): the original order's customer charge × the share "
                                         "HUAWEI CLOUD refunded", USD),
        Column("margin_amount", "customer_charge_amount − (amount_due + refund_amount)", USD),
        Column("unmatched_agreement_line_count", "lines that match no customer discount rule (billed at "
                                                 "list price)", COUNT),
    ),
    _table(
        "marts.customer_bill_line", "one Expenditure or Refund bill line",
        "The lines of each customer's bill at the partner's agreed price (a view over the rated lines).",
        BILL_CYCLE, CUSTOMER_ID, CUSTOMER_NAME, PARTNER_ID,
        TRADE_ID,
        Column("original_order_id", "for a Refund line, the order it refunds"),
        Column("trade_time_local", "trade time as text, GMT+8, YYYY-MM-DD HH:MM:SS"),
        Column("bill_type", "Expenditure or Refund"),
        Column("billing_mode", "the bill file's billing mode code: 0 yearly/monthly, 1 pay-per-use, 2 RI "
                               "subscription, 3 RI hourly, 4 savings-plan subscription, 5 savings-plan "
                               "hourly, 6 savings-plan deduction"),
        SERVICE_TYPE_CODE, SERVICE_TYPE_NAME,
        Column("resource_type_name", "the resource type's name"),
        Column("product_name", "the product's name"),
        Column("region_code", "HUAWEI CLOUD region code"),
        RESOURCE_ID,
        Column("resource_name", "the resource's name"),
        Column("usage_amount", "usage quantity", "usage_unit"),
        Column("usage_unit", "unit of usage_amount"),
        Column("official_amount", "list price", USD),
        Column("discount_rate", "the customer's agreed discount rate applied (0 when no rule matched)", RATIO),
        Column("agreement_rule", "the customer discount rule that priced the line; null when none matched"),
        Column("customer_charge_amount", "what the partner bills the customer for the line", USD),
        Column("amount_due", "amount due to HUAWEI CLOUD for the line", USD),
        Column("src_member", "the bill file member the line was read from"),
        Column("src_record", "the line's data record ordinal in that member"),
    ),
    _table(
        "marts.daily_spend",
        "bill_cycle × source × customer × service type × GMT+8 trade date",
        "What each customer spent on each service per day at list price, from the bill file where the "
        "month has one and from the month's newest usage export (month to date, indicative until the "
        "bill file closes the month); the daily flash reads it (a view).",
        BILL_CYCLE,
        Column("source", "bill_file (the bill file's Expenditure lines) or usage_export (the month's "
                         "newest usage export)"),
        Column("export_date", "the usage export's date; null for bill_file rows", DATE_GMT8),
        CUSTOMER_ID,
        SERVICE_TYPE_CODE,
        Column("trade_date_local", "the lines' trade date", DATE_GMT8),
        Column("official_amount", "Σ list price of the day's lines", USD),
        Column("amount_due", "Σ amount due to HUAWEI CLOUD of the day's lines", USD),
        Column("line_count", "lines summed", COUNT),
    ),
    _table(
        "marts.data_quality", "source object × member (member null for a whole-object row)",
        "What each source object and member delivered and what became of it: rows read = loaded + "
        "quarantined.",
        SOURCE, OBJECT_KEY, MEMBER,
        DELIVERY_CYCLE,
        ROWS_READ,
        ROWS_LOADED,
        ROWS_QUARANTINED,
        Column("findings_count", "findings on loaded rows (audit.findings)", COUNT),
        Column("status", "ok, warning, quarantined_rows, rejected, superseded or ignored"),
        Column("first_error", "the first reason a row or the member was rejected (for ignored objects, "
                              "why)"),
        Column("landed_at", "when the delivery landed", TIMESTAMP),
        ETAG,
        SHA256,
    ),
    _table(
        "marts.restatement", "bill_cycle × re-delivery × customer",
        "What each re-delivery of a monthly bill file changed for each customer.",
        BILL_CYCLE, OBJECT_KEY,
        PREVIOUS_ETAG,
        NEW_ETAG,
        RESTATED_AT,
        CUSTOMER_ID,
        Column("lines_added", "lines only in the new delivery", COUNT),
        Column("lines_removed", "lines only in the previous delivery", COUNT),
        Column("lines_changed", "lines in both whose amounts or attributes differ", COUNT),
        Column("previous_amount_due", "Σ amount due of the affected lines before", USD),
        Column("new_amount_due", "Σ amount due of the affected lines now", USD),
        Column("amount_due_delta", "new_amount_due − previous_amount_due", USD),
    ),
    _table(
        "marts.partner_bill_tieout", "bill_cycle × component (consumption, refunds, adjustments, amount_due)",
        "Does the bill file add up to HUAWEI CLOUD's monthly bill (BSS API), each side rounded half-up to "
        "the cent.",
        BILL_CYCLE,
        Column("component", "consumption, refunds, adjustments or amount_due"),
        FILE_AMOUNT, API_AMOUNT, TIEOUT_DIFFERENCE, STATUS_OF_TIEOUT, BILL_FILE_PRESENT,
        Column("component_order", "display order of the component (1 … 4)"),
    ),
    _table(
        "marts.customer_bill_tieout", "bill_cycle × customer",
        "Does each customer's total in the bill file match its monthly sums in the BSS API, to the cent.",
        BILL_CYCLE, CUSTOMER_ID, CUSTOMER_NAME, FILE_AMOUNT, API_AMOUNT, TIEOUT_DIFFERENCE, STATUS_OF_TIEOUT,
        Column("file_line_count", "the customer's bill lines in the file", COUNT),
        Column("api_record_count", "the customer's monthly-sum records in the API", COUNT),
        BILL_FILE_PRESENT,
    ),
    _table(
        "marts.discount_audit", "one discount finding",
        "The discount area of marts.reconciliation_findings (a view): 607/609 on resale, discount where "
        "none is allowed, commercial-rate mismatch, line identities, negative margin, agreement overlap "
        "and expiry.",
        *FINDING_COLUMNS,
    ),
    _table(
        "marts.incentive_reconciliation", "period × incentive type × service type",
        "The incentive the statement pays vs the incentive computed from the bill lines, with the "
        "expected reconciliation and payment dates and why a period is frozen.",
        Column("period", "the incentive period (month)", CYCLE),
        Column("incentive_type", "e.g. Monthly rebate (only that one is reconciled monthly)"),
        SERVICE_TYPE_CODE, SERVICE_TYPE_NAME,
        Column("incentive_policy", "the service's incentive policy code from the API (0, 1, 13 earn; 2 "
                                   "does not); null when unknown"),
        Column("line_count", "eligible bill lines", COUNT),
        Column("eligible_performance_amount", "Σ (amount_due − coupons) of resale customers' Expenditure "
                                              "and Refund lines", USD),
        Column("rate", "the agreed incentive rate (agreements/incentive_rates.csv)", RATIO),
        Column("expected_incentive_amount", "eligible performance × rate, rounded half-up to the cent", USD),
        Column("statement_performance_amount", "the performance the incentive statement states", USD),
        Column("statement_rate", "the rate the incentive statement states", RATIO),
        Column("statement_incentive_amount", "the incentive the statement pays", USD),
        Column("difference_amount", "statement_incentive_amount − expected_incentive_amount (null when "
                                    "not compared)", USD),
        Column("statement_status", "the status the statement gives the line"),
        Column("comparison_status", "matched, mismatch, missing_in_statement, extra_in_statement, "
                                    "not_eligible, not_reconciled, awaiting_statement or policy_unknown"),
        Column("status", "comparison_status, or frozen when the period is frozen"),
        Column("frozen_reason", "why the period is frozen, from the period's own evidence (its statement, "
                                "its bill and a partner-credit reading taken after that bill); null when "
                                "it is not"),
        Column("expected_reconciliation_date", "5th working day of the next month", "date"),
        Column("expected_payment_date", "reconciliation + 5 working days + 30 calendar days", "date"),
    ),
    _table(
        "marts.budget_status", "bill cycle × customer with a budget, for every month with a usage export",
        "Each customer's budget against its spend at list price in a month, as of that month's newest "
        "usage export (the open month so far, a closed month as its last export left it): budget used, "
        "the alert thresholds crossed, a forecast to month end, status and alert level.",
        Column("bill_cycle", "the month measured (a month with a usage export)", CYCLE),
        CUSTOMER_ID, CUSTOMER_NAME, INDIRECT_PARTNER_ID,
        Column("budget_type", "the budget's type as the API states it: MONTHLY, or PACKAGE (one-time)"),
        Column("budget_amount", "the customer's budget", USD),
        Column("api_used_amount", "the budget's used amount as the API states it; null when the month's "
                                  "reading was taken after the month ended", USD),
        Column("mtd_spend_amount", "Σ list price of the month's usage lines in its newest export, net of "
                                   "refunds", USD),
        Column("refund_amount", "Σ of the negative usage lines (refunds; ≤ 0)", USD),
        Column("one_off_amount", "Σ of subscriptions bought in the month (billing modes 0, 2, 4): counted "
                                 "once, not extrapolated", USD),
        Column("accruing_amount", "Σ of pay-per-use and hourly lines: accrues by the day, extrapolated by "
                                  "the forecast", USD),
        Column("budget_used_amount", "what counts against the budget: mtd_spend_amount for MONTHLY, the "
                                     "API's used amount since the budget was set for PACKAGE (null when "
                                     "not known for the month)", USD),
        Column("utilisation_ratio", "budget_used_amount ÷ budget_amount", RATIO),
        Column("threshold_crossed_ratio", "the highest alert threshold reached: 0, 0.75, 0.90 or 1.00",
               RATIO),
        Column("forecast_amount", "budget_used_amount + accruing_amount ÷ days covered × the days left",
               USD),
        Column("forecast_utilisation_ratio", "forecast_amount ÷ budget_amount", RATIO),
        Column("is_frozen", "whether the customer account is frozen (customers API)"),
        Column("is_closed", "whether the month is closed (its bill file has been delivered)"),
        Column("as_of_date", "the month's newest usage export date the row is measured at", DATE_GMT8),
        Column("days_covered", "days of the month the usage export covers (the export of day N covers "
                               "1 … N − 1)", DAYS),
        Column("days_in_month", "days in the month", DAYS),
        Column("usage_line_count", "usage lines counted", COUNT),
        Column("budget_snapshot_date", "date of the budgets API reading used: the newest by as_of_date, "
                                       "else the oldest after it", DATE_GMT8),
        Column("status", "over_budget, alert_90, alert_75, forecast_over (below 0.75 but forecast above "
                         "the budget), ok or not_measured"),
        Column("alert_level", "red (1.00 reached), amber (0.75 or 0.90 reached, or forecast above the "
                              "budget) or green; null when not measured"),
        Column("note", "why a figure looks odd: refunds above the month's usage, a one-time budget whose "
                       "use in the month is not known; null otherwise"),
    ),
    _table(
        "marts.coupon_status", "coupon, as of the latest run",
        "Every coupon the customers hold: face value, balance, what it gave, the customer's use of the "
        "coupon type in the newest closed cycle, and the days left to expiry.",
        Column("coupon_id", "the coupon's id"),
        CUSTOMER_ID, CUSTOMER_NAME, INDIRECT_PARTNER_ID,
        Column("coupon_type", "cash_coupon, voucher, discount_coupon or product_coupon"),
        Column("coupon_type_code", "the API's coupon type code (1 voucher, 2 discount, 3 product, 4 cash)"),
        Column("status", "inactive, usable, used, expired or reclaimed"),
        Column("status_code", "the API's status code (1 … 5, in the order of status)"),
        Column("face_value", "the coupon's face value", USD),
        Column("balance", "what is left on the coupon", USD),
        Column("used_amount", "face_value − balance", USD),
        Column("used_this_month_amount", "Σ the customer's lines paid by this coupon type in "
                                         "used_in_bill_cycle (the same on each coupon of the type)", USD),
        Column("used_in_bill_cycle", "the newest cycle with a bill file", CYCLE),
        Column("valid_time", "when the coupon becomes valid", TIMESTAMP),
        Column("expire_time", "when the coupon expires", TIMESTAMP),
        AS_OF_DATE,
        Column("days_to_expiry", "from as_of_date to the GMT+8 expiry date; < 0 = expired", DAYS),
        Column("source_id", "the issuing partner; null = issued by HUAWEI CLOUD"),
        Column("plan_name", "the coupon plan's name"),
        Column("snapshot_date", "date of the coupons API snapshot", DATE_GMT8),
    ),
    _table(
        "marts.accounting_journal", "bill_cycle × customer × entry × account",
        "The month's double-entry lines for the partner's ledger, per customer (docs/journal.md): every "
        "posting one debit and one credit line of equal amount, with the account's code and name from the "
        "chart of accounts (marts.chart_of_accounts).",
        BILL_CYCLE,
        Column("partner_id", "on a customer's lines its partner (a reseller for a reseller's customer); on "
                             "the incentive line the partner's own id, null when the BSS API's reseller list "
                             "cannot tell it"),
        Column("customer_id", "HUAWEI CLOUD customer account id; null on the incentive line"),
        CUSTOMER_NAME,
        Column("entry", "the posting: sale, customer_refund, cost, huawei_refund, coupons, adjustment or "
                        "incentive"),
        ACCOUNT,
        Column("account_code", "the account's code in the partner's ledger (the default chart's when "
                               "agreements/chart_of_accounts.csv does not map it)"),
        ACCOUNT_NAME,
        ACCOUNT_SECTION,
        Column("debit_amount", "the line's debit (0 on a credit line; never negative)", USD),
        Column("credit_amount", "the line's credit (0 on a debit line; never negative)", USD),
        Column("memo", "what the posting is, in words"),
    ),
    _table(
        "marts.chart_of_accounts", "one journal account",
        "The ledger code and name each account of marts.accounting_journal posts to, from the partner's "
        "agreements/chart_of_accounts.csv or, for an account it does not map, the default chart of "
        "docs/journal.md (a view).",
        ACCOUNT,
        Column("account_code", "the account's code in the partner's ledger"),
        ACCOUNT_NAME,
        ACCOUNT_SECTION,
        Column("source", "the chart file (object key) the code comes from, or default"),
    ),
    _table(
        "marts.focus_partner_cost", "one bill line (Expenditure, Refund, Adjustment) of a closed bill cycle",
        "What HUAWEI CLOUD bills the partner, as a FOCUS 1.2 cost and usage dataset (a view; "
        "docs/focus.md): HUAWEI CLOUD issues the invoice, the billing account is the partner, each customer "
        "a sub account.",
        _focus("BilledCost", "amount_due: what HUAWEI CLOUD charges for the line, coupons included"),
        _focus("BillingAccountId", "the partner HUAWEI CLOUD bills (the distributor, not its resellers)"),
        _focus("BillingAccountName", "the billed partner's name"),
        _focus("ContractedCost", "list price less HUAWEI CLOUD's discounts to the partner (official_amount − "
                                 "discount_amount)"),
        _focus("EffectiveCost", "BilledCost less what cash coupons, vouchers and stored-value cards paid: the "
                                "cost the partner bears (purchases not amortized)"),
        _focus("InvoiceIssuerName", "HUAWEI CLOUD"),
        FOCUS_LIST_COST,
        _focus("SubAccountId", "the customer's account id"),
        _focus("SubAccountName", "the customer's account name (its id when it has none)"),
        _focus("SubAccountType", "Customer, or Reseller customer for a reseller's customer"),
        *FOCUS_CHARGE_COLUMNS,
        _focus("x_DiscountTypes", "HUAWEI CLOUD's discount type codes on the line "
                                  "(docs/domain.md#discount-types)"),
        _focus("x_DiscountAmount", "HUAWEI CLOUD's discount on the line", USD),
        _focus("x_TruncatedAmount", "amount truncated below the cent", USD),
        _focus("x_CashCouponAmount", "paid by cash coupons", USD),
        _focus("x_VoucherAmount", "paid by vouchers", USD),
        _focus("x_StoredCardAmount", "paid by stored-value cards", USD),
    ),
    _table(
        "marts.focus_customer_billing", "one line of a customer's bill (Expenditure, Refund) of a closed bill "
                                        "cycle",
        "What the partner bills each customer, as a FOCUS 1.2 cost and usage dataset (a view; "
        "docs/focus.md): the partner issues the invoice, the billing account is the customer; HUAWEI "
        "CLOUD's settlement with the partner stays out.",
        _focus("BilledCost", "the customer charge: list price × (1 − the agreed discount rate), as "
                             "marts.customer_bill_line"),
        _focus("BillingAccountId", "the customer's account id"),
        _focus("BillingAccountName", "the customer's name (its id when it has none)"),
        _focus("ContractedCost", "the customer charge (the price agreed with the customer)"),
        _focus("EffectiveCost", "the customer charge"),
        _focus("InvoiceIssuerName", "the partner's name"),
        FOCUS_LIST_COST,
        *FOCUS_CHARGE_COLUMNS,
        _focus("x_PartnerId", "the partner that bills the customer (the partner view's BillingAccountId)"),
        _focus("x_DiscountRate", "the customer's agreed discount rate applied (0 when no rule matched)", RATIO),
        _focus("x_AgreementRule", "the customer discount rule that priced the line; null when none matched"),
    ),
    _table(
        "marts.reconciliation_findings", "one finding of any area",
        "Every reconciliation finding of docs/reconciliation.md, all areas and cycles.",
        *FINDING_COLUMNS,
    ),
    _table(
        "audit.loads", "object member read by staging (member null for a whole-object row)",
        "Every load of a delivery or API pull: rows read = rows loaded + rows quarantined.",
        Column("load_id", "the load's id"),
        SOURCE, OBJECT_KEY, ETAG,
        SHA256,
        MEMBER,
        DELIVERY_CYCLE,
        ROWS_READ,
        ROWS_LOADED,
        ROWS_QUARANTINED,
        Column("findings_count", "findings on loaded rows", COUNT),
        Column("status", "ok, warning, quarantined_rows, rejected or superseded"),
        Column("first_error", "the first reason a row or the member was rejected"),
        Column("loaded_at", "when the load ran", TIMESTAMP),
    ),
    _table(
        "audit.quarantine", "rejected source row (or rejected member or object, line_number null)",
        "Rows that were not loaded, with the rule they broke and the fields as delivered.",
        *SOURCE_POSITION,
        RULE_ID,
        Column("reason", "why the row was rejected, and what to do"),
        Column("raw_record", "the fields as delivered, JSON"),
    ),
    _table(
        "audit.findings", "finding on a loaded row",
        "Validation findings on rows that stay loaded (e.g. HUAWEI CLOUD's arithmetic is off).",
        *SOURCE_POSITION,
        RULE_ID,
        Column("severity", "error, warning or info"),
        CUSTOMER_ID,
        Column("reference", "the row's trade id or other reference"),
        Column("expected", "what the rule expects (an amount or a rate, by rule)"),
        Column("actual", "what was delivered; same unit as expected"),
        Column("difference_amount", "actual − expected", USD),
        Column("message", "the finding in words"),
    ),
    _table(
        "audit.restatement_line", "added, removed or changed bill line per re-delivery",
        "What a re-delivered monthly bill file changed, line by line (marts.restatement sums it).",
        BILL_CYCLE, OBJECT_KEY,
        PREVIOUS_ETAG,
        NEW_ETAG,
        RESTATED_AT,
        CUSTOMER_ID,
        Column("bill_type", "Expenditure, Refund or Adjustment"),
        TRADE_ID,
        RESOURCE_ID,
        Column("usage_type", "the usage type of the line"),
        Column("trade_time", "the trade time", TIMESTAMP),
        Column("change", "added, removed or changed"),
        Column("previous_amount_due", "the line's amount due before (null when added)", USD),
        Column("new_amount_due", "the line's amount due now (null when removed)", USD),
        Column("amount_due_delta", "new − previous amount due (nulls count as 0)", USD),
    ),
    _table(
        "audit.rules", "rule (rule id)",
        "The rules catalogue of the release that last ran: every rule id the audit tables and "
        "marts.reconciliation_findings name, with what it checks and what to do about it. Rewritten "
        "whole by each run.",
        Column("rule_id", "the rule's stable id, e.g. BILL.AMOUNT_DUE_IDENTITY"),
        Column("area", "where its rows are found: file (the delivered files), api (BSS API records), "
                       "delivery (held re-deliveries), or the reconciliation area tieout, discount, incentive, "
                       "budget or coupon"),
        Column("severity", "reject (the row is quarantined, not loaded), error, warning or info"),
        Column("title", "what the rule checks, in words"),
        Column("action", "what to do about a row that breaks it"),
    ),
    _table(
        "audit.held_deliveries", "held re-delivery (object key × ETag)",
        "Re-deliveries read but not applied because they would replace what a month was built from with "
        "something that cannot be trusted; the month keeps its delivery until `billrecon accept` or a newer one.",
        SOURCE, OBJECT_KEY, ETAG, SHA256,
        Column("bill_cycle", "the month the delivery would replace (null for agreement files, which every "
                             "month reads)", CYCLE),
        Column("replaces_etag", "ETag of the delivery the month keeps"),
        Column("replaces_landed_at", "when the kept delivery landed", TIMESTAMP),
        RULE_ID,
        Column("reason", "what applying it would do, in figures"),
        Column("message", "the one line the run, the report and Dagster show"),
        ROWS_READ,
        Column("rows_loaded", "rows that passed validation (not applied)", COUNT),
        ROWS_QUARANTINED,
        Column("members_rejected", "members rejected whole", COUNT),
        Column("first_error", "the first rejected member or quarantined row, as staging said it"),
        Column("measured", "the figures before and after that were compared, JSON"),
        Column("held_at", "when it was held", TIMESTAMP),
        Column("released_at", "when it was released (null while held)", TIMESTAMP),
        Column("released_by", "who accepted it, or the newer delivery that replaced it"),
    ),
    _table(
        SNAPSHOT_TABLE, "one row: the snapshot itself",
        "Only in the published snapshot, never in the working warehouse: when it was published, where, and "
        "from which working file. Commands that write a warehouse refuse the file it names (runs write the "
        "working file and replace the snapshot with a copy of it).",
        Column("published_at", "when the run published this snapshot", TIMESTAMP),
        Column("published_path", "the absolute path it was published at (a copy elsewhere is no longer the "
                                 "snapshot: it may be put back as a working file)"),
        Column("working_warehouse", "the absolute path of the working warehouse it is a copy of, which runs, "
                                    "`billrecon accept` and `billrecon report` take as --warehouse"),
    ),
)


@functools.cache
def _by_name() -> dict[str, Table]:
    return {table.name: table for table in TABLES}


def table_contract(name: str) -> Table | None:
    """The contract of `schema.table`, or None for a table that is not public."""
    return _by_name().get(name)


def column_note(table: str, column: str) -> str | None:
    """The meaning (and unit) of `column` of the public table `table` (`schema.table`), e.g. for a
    spreadsheet header's note; None when the contract has no such column."""
    contract = table_contract(table)
    if contract is None:
        return None
    return next((c.note() for c in contract.columns if c.name == column), None)


# --- the README's warehouse section -------------------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN_MARKER = "<!-- warehouse contract: generated from schemas/warehouse_contract.py (make readme) -->"
END_MARKER = "<!-- end of warehouse contract -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_section() -> str:
    """The README text between the markers: a table of the public tables, then each table's columns."""
    lines = ["| table | grain | what it holds |", "|---|---|---|"]
    lines += [f"| `{t.name}` | {_cell(t.grain)} | {_cell(t.meaning)} |" for t in TABLES]
    for table in TABLES:
        lines += ["", f"<details><summary><code>{table.name}</code>: columns</summary>", "",
                  "| column | unit | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {_cell(c.unit or '')} | {_cell(c.meaning)} |" for c in table.columns]
        lines += ["", "</details>"]
    return "\n".join(lines)


_SECTION = re.compile(re.escape(BEGIN_MARKER) + r"\n(?:.*?\n)?" + re.escape(END_MARKER), re.DOTALL)


def readme_with_section(readme: str) -> str:
    """`readme` with the text between the markers replaced by the generated section."""
    if not _SECTION.search(readme):
        raise ValueError(f"README.md lacks the markers {BEGIN_MARKER!r} … {END_MARKER!r}")
    return _SECTION.sub(lambda _: f"{BEGIN_MARKER}\n{readme_section()}\n{END_MARKER}", readme, count=1)


def main(argv: list[str]) -> int:
    if argv != ["--write-readme"]:
        print("usage: python -m schemas.warehouse_contract --write-readme", file=sys.stderr)
        return 2
    text = README.read_text(encoding="utf-8")
    try:
        updated = readme_with_section(text)
    except ValueError as exc:
        print(f"{exc}: put the two marker lines where the section belongs, then run again", file=sys.stderr)
        return 1
    if updated != text:
        README.write_text(updated, encoding="utf-8")
        print("README.md: warehouse contract section rewritten")
    else:
        print("README.md: warehouse contract section already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
