"""The file contract of docs/formats.md as the sandbox produces it: column order, header names, key names.

This is the sandbox's own copy. The pipeline keeps its alias table in `schemas/`; the two are
deliberately independent so a drift between them shows up as a failing test, not as silent agreement.
"""

from __future__ import annotations

# docs/formats.md#bill-line-columns, in file order: (canonical name, English header, Chinese header).
_BILL_LINE_HEADERS: tuple[tuple[str, str, str], ...] = (
    ("bill_cycle", "Billing Cycle", "账期"),
    ("customer_id", "Customer ID", "客户ID"),
    ("customer_name", "Customer Name", "客户名称"),
    ("account_name", "Account Name", "客户账号名"),
    ("partner_id", "Partner ID", "伙伴ID"),
    ("partner_name", "Partner Name", "伙伴名称"),
    ("bill_type", "Bill Type", "账单类型"),
    ("billing_mode", "Billing Mode", "计费模式"),
    ("service_type_code", "Product Type Code", "产品类型编码"),
    ("service_type_name", "Product Type", "产品类型"),
    ("resource_type_code", "Resource Type Code", "资源类型编码"),
    ("resource_type_name", "Resource Type", "资源类型"),
    ("product_id", "Product ID", "产品ID"),
    ("product_name", "Product Name", "产品名称"),
    ("spec_desc", "Specifications", "规格"),
    ("region_code", "Cloud Service Region Code", "云服务区编码"),
    ("region_name", "Region", "云服务区"),
    ("resource_id", "Resource ID", "资源ID"),
    ("resource_name", "Resource Name", "资源名称"),
    ("trade_id", "Order No./Transaction No.", "订单号/交易号"),
    ("original_order_id", "Original Order No.", "原订单号"),
    ("trade_time", "Customer Transaction Time", "客户交易时间"),
    ("order_type", "Order Type", "订单类型"),
    ("period_num", "Order Period", "订购周期数"),
    ("period_unit", "Order Period Unit", "订购周期单位"),
    ("is_spot", "Spot Instance", "竞价实例"),
    ("usage_type", "Usage Type Code", "使用量类型编码"),
    ("usage_amount", "Usage", "使用量"),
    ("usage_unit", "Usage Unit", "使用量单位"),
    ("official_amount", "List Price (USD)", "官网价"),
    ("discount_amount", "Discount Amount (USD)", "折扣金额"),
    ("discount_types", "Discount Types", "折扣类型"),
    ("truncated_amount", "Truncated Amount (USD)", "抹零金额"),
    ("amount_due", "Amount Due (USD)", "应付金额"),
    ("cash_amount", "Cash Payment (USD)", "现金支付"),
    ("credit_amount", "Monthly Settlement (USD)", "月结"),
    ("cash_coupon_amount", "Cash Coupon (USD)", "现金券"),
    ("voucher_amount", "Voucher (USD)", "代金券"),
    ("stored_card_amount", "Stored-Value Card (USD)", "储值卡"),
    ("debt_amount", "Arrears (USD)", "欠费"),
    ("writeoff_amount", "Written-off Arrears (USD)", "欠费核销"),
)

BILL_LINE_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _BILL_LINE_HEADERS)

# docs/formats.md#daily-usage-exports: the usage export carries a subset of the bill-line columns, same headers.
USAGE_COLUMNS: tuple[str, ...] = (
    "bill_cycle", "customer_id", "trade_time", "billing_mode", "service_type_code",
    "resource_type_code", "region_code", "resource_id", "usage_type", "usage_amount", "usage_unit",
    "official_amount", "discount_amount", "amount_due",
)

# Money columns of a bill line, all DECIMAL(20,8).
MONEY_COLUMNS: tuple[str, ...] = (
    "official_amount", "discount_amount", "truncated_amount", "amount_due",
    "cash_amount", "credit_amount", "cash_coupon_amount", "voucher_amount",
    "stored_card_amount", "debt_amount", "writeoff_amount",
)

# The components whose sum is amount_due (second identity of docs/formats.md#line-identities-and-signs).
PAYMENT_COLUMNS: tuple[str, ...] = (
    "cash_amount", "credit_amount", "cash_coupon_amount", "voucher_amount",
    "stored_card_amount", "debt_amount", "writeoff_amount",
)

# Column order of the partner-side agreement files (docs/formats.md#customer-discounts and
# docs/formats.md#incentive-rates).
CUSTOMER_DISCOUNT_COLUMNS: tuple[str, ...] = (
    "customer_id", "service_type_code", "resource_type_code", "discount_rate", "valid_from", "valid_to",
)
INCENTIVE_RATE_COLUMNS: tuple[str, ...] = ("incentive_type", "policy_code", "rate", "valid_from", "valid_to")

# Bill type as written in a Chinese-language export (docs/formats.md#enumerations).
BILL_TYPE_ZH: dict[str, str] = {"Expenditure": "消费", "Refund": "退款", "Adjustment": "调账"}

# Time strings in files: GMT+8 wall clock with an explicit suffix.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S GMT+08:00"

LANGUAGES = ("en", "zh")


def header_names(language: str = "en") -> dict[str, str]:
    """Map each canonical bill-line column to its header in `language` ("en" or "zh")."""
    if language not in LANGUAGES:
        raise ValueError(f"header language must be one of {LANGUAGES}, got {language!r}")
    pick = 1 if language == "en" else 2
    return {row[0]: row[pick] for row in _BILL_LINE_HEADERS}


def _yyyymm(month: str) -> str:
    return month.replace("-", "")


def bill_archive_key(month: str) -> str:
    """Object key of the monthly partner bill file for `month` ('YYYY-MM')."""
    return f"customerBill/customerBill_{_yyyymm(month)}.tar.gz"


def bill_member_name(month: str, seq: int) -> str:
    """Name of the `seq`-th (from 1) CSV member inside a monthly bill archive."""
    return f"customerBill_{_yyyymm(month)}_{seq:04d}.csv"


def usage_archive_key(month: str, export_date: str) -> str:
    """Object key of the usage export of data month `month` made on `export_date` ('YYYYMMDD')."""
    return f"customerUsage/customerUsageV2_{_yyyymm(month)}_{export_date}.tar.gz"


def usage_member_name(month: str, export_date: str, seq: int) -> str:
    """Name of the `seq`-th (from 1) CSV member inside a usage export archive."""
    return f"customerUsageV2_{_yyyymm(month)}_{export_date}_{seq:08d}.csv"


CUSTOMER_DISCOUNTS_KEY = "agreements/customer_discounts.csv"
INCENTIVE_RATES_KEY = "agreements/incentive_rates.csv"
CHART_OF_ACCOUNTS_KEY = "agreements/chart_of_accounts.csv"

# docs/journal.md#chart-of-accounts: the sandbox partner's ledger, six-digit codes of its own, so the
# demo's journal shows the partner's codes rather than the defaults. (account, code, name)
SANDBOX_CHART_OF_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("customer_receivable", "112201", "Accounts receivable – cloud customers"),
    ("coupons_and_vouchers", "112305", "HUAWEI CLOUD coupons, vouchers and stored-value cards"),
    ("incentive_receivable", "122110", "Incentives receivable – HUAWEI CLOUD"),
    ("huawei_payable", "220201", "Accounts payable – HUAWEI CLOUD"),
    ("revenue", "600101", "Revenue – cloud resale"),
    ("customer_refunds", "600102", "Revenue – cloud resale refunds"),
    ("incentive_income", "605101", "Vendor incentives – HUAWEI CLOUD"),
    ("cost_of_sales", "640101", "Cost of sales – HUAWEI CLOUD"),
    ("cost_refunds", "640102", "Cost of sales – HUAWEI CLOUD refunds"),
    ("billing_adjustments", "640109", "Cost of sales – HUAWEI CLOUD billing adjustments"),
)

# docs/formats.md#incentive-statement, in file order: (canonical name, English header). Finance
# exports it in English only.
_INCENTIVE_STATEMENT_HEADERS: tuple[tuple[str, str], ...] = (
    ("statement_id", "Statement ID"),
    ("period", "Reconciliation Period"),
    ("incentive_type", "Incentive Type"),
    ("service_type_code", "Product Type Code"),
    ("customer_id", "Customer ID"),
    ("performance_amount", "Performance (USD)"),
    ("incentive_rate", "Incentive Rate"),
    ("incentive_amount", "Incentive Amount (USD)"),
    ("status", "Status"),
)
INCENTIVE_STATEMENT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _INCENTIVE_STATEMENT_HEADERS)
INCENTIVE_STATEMENT_HEADERS: dict[str, str] = dict(_INCENTIVE_STATEMENT_HEADERS)


def incentive_statement_key(period: str) -> str:
    """Object key of the incentive statement of `period` ('YYYY-MM')."""
    return f"incentives/incentive_statement_{_yyyymm(period)}.csv"


GROUND_TRUTH_KEY = "ground_truth.json"   # planted anomalies; at the root, outside every source folder
# every name at the root of a world folder: what a world written by an earlier release holds
WORLD_ROOT_NAMES = frozenset(key.split("/")[0] for key in (
    bill_archive_key("2026-01"), usage_archive_key("2026-01", "20260102"), incentive_statement_key("2026-01"),
    CUSTOMER_DISCOUNTS_KEY, INCENTIVE_RATES_KEY, CHART_OF_ACCOUNTS_KEY, GROUND_TRUTH_KEY))
