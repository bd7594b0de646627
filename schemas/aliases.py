"""Header alias tables: every header a partner file may carry, mapped to the canonical column name.

Files are read by header name, never by position (docs/formats.md#header-aliases): HUAWEI CLOUD delivers English or
Chinese headers depending on the subscription language, and column order may differ.
"""

from __future__ import annotations

# canonical name -> (English header, Chinese header); order is the documented column order.
BILL_LINE_HEADERS: dict[str, tuple[str, str]] = {
    "bill_cycle": ("Billing Cycle", "账期"),
    "customer_id": ("Customer ID", "客户ID"),
    "customer_name": ("Customer Name", "客户名称"),
    "account_name": ("Account Name", "客户账号名"),
    "partner_id": ("Partner ID", "伙伴ID"),
    "partner_name": ("Partner Name", "伙伴名称"),
    "bill_type": ("Bill Type", "账单类型"),
    "billing_mode": ("Billing Mode", "计费模式"),
    "service_type_code": ("Product Type Code", "产品类型编码"),
    "service_type_name": ("Product Type", "产品类型"),
    "resource_type_code": ("Resource Type Code", "资源类型编码"),
    "resource_type_name": ("Resource Type", "资源类型"),
    "product_id": ("Product ID", "产品ID"),
    "product_name": ("Product Name", "产品名称"),
    "spec_desc": ("Specifications", "规格"),
    "region_code": ("Cloud Service Region Code", "云服务区编码"),
    "region_name": ("Region", "云服务区"),
    "resource_id": ("Resource ID", "资源ID"),
    "resource_name": ("Resource Name", "资源名称"),
    "trade_id": ("Order No./Transaction No.", "订单号/交易号"),
    "original_order_id": ("Original Order No.", "原订单号"),
    "trade_time": ("Customer Transaction Time", "客户交易时间"),
    "order_type": ("Order Type", "订单类型"),
    "period_num": ("Order Period", "订购周期数"),
    "period_unit": ("Order Period Unit", "订购周期单位"),
    "is_spot": ("Spot Instance", "竞价实例"),
    "usage_type": ("Usage Type Code", "使用量类型编码"),
    "usage_amount": ("Usage", "使用量"),
    "usage_unit": ("Usage Unit", "使用量单位"),
    "official_amount": ("List Price (USD)", "官网价"),
    "discount_amount": ("Discount Amount (USD)", "折扣金额"),
    "discount_types": ("Discount Types", "折扣类型"),
    "truncated_amount": ("Truncated Amount (USD)", "抹零金额"),
    "amount_due": ("Amount Due (USD)", "应付金额"),
    "cash_amount": ("Cash Payment (USD)", "现金支付"),
    "credit_amount": ("Monthly Settlement (USD)", "月结"),
    "cash_coupon_amount": ("Cash Coupon (USD)", "现金券"),
    "voucher_amount": ("Voucher (USD)", "代金券"),
    "stored_card_amount": ("Stored-Value Card (USD)", "储值卡"),
    "debt_amount": ("Arrears (USD)", "欠费"),
    "writeoff_amount": ("Written-off Arrears (USD)", "欠费核销"),
}

USAGE_LINE_COLUMNS: tuple[str, ...] = (
    "bill_cycle", "customer_id", "trade_time", "billing_mode", "service_type_code",
    "resource_type_code", "region_code", "resource_id", "usage_type", "usage_amount",
    "usage_unit", "official_amount", "discount_amount", "amount_due",
)
USAGE_LINE_HEADERS: dict[str, tuple[str, str]] = {c: BILL_LINE_HEADERS[c] for c in USAGE_LINE_COLUMNS}

# Partner-kept agreement files use the canonical names as headers.
CUSTOMER_DISCOUNT_HEADERS: dict[str, tuple[str, ...]] = {
    c: (c,)
    for c in ("customer_id", "service_type_code", "resource_type_code", "discount_rate", "valid_from", "valid_to")
}

# docs/formats.md#incentive-statement: finance exports the incentive statement from Partner Center, in English only.
INCENTIVE_STATEMENT_HEADERS: dict[str, tuple[str, ...]] = {
    "statement_id": ("Statement ID",),
    "period": ("Reconciliation Period",),
    "incentive_type": ("Incentive Type",),
    "service_type_code": ("Product Type Code",),
    "customer_id": ("Customer ID",),
    "performance_amount": ("Performance (USD)",),
    "incentive_rate": ("Incentive Rate",),
    "incentive_amount": ("Incentive Amount (USD)",),
    "status": ("Status",),
}
STATEMENT_STATUS_VALUES = {status: status for status in (
    "Pending confirmation", "Confirmed", "Rejected", "Frozen", "Paid")}

# docs/formats.md#incentive-rates: agreements/incentive_rates.csv, canonical names as headers.
INCENTIVE_RATE_HEADERS: dict[str, tuple[str, ...]] = {
    c: (c,) for c in ("incentive_type", "policy_code", "rate", "valid_from", "valid_to")
}

# docs/formats.md#chart-of-accounts: agreements/chart_of_accounts.csv, canonical names as headers.
CHART_OF_ACCOUNTS_HEADERS: dict[str, tuple[str, ...]] = {c: (c,) for c in ("account", "account_code", "account_name")}

# Enumerations whose values arrive in the file language: map them to one canonical spelling.
BILL_TYPE_VALUES = {
    "Expenditure": "Expenditure", "消费": "Expenditure",
    "Refund": "Refund", "退款": "Refund",
    "Adjustment": "Adjustment", "调账": "Adjustment",
}
ORDER_TYPE_VALUES = {
    "New": "New", "新购": "New",
    "Renew": "Renew", "续费": "Renew",
    "Change": "Change", "变更": "Change",
    "Unsubscribe": "Unsubscribe", "退订": "Unsubscribe",
    "Fee adjustment": "Fee adjustment", "费用调整": "Fee adjustment",
}
PERIOD_UNIT_VALUES = {"Year": "Year", "年": "Year", "Month": "Month", "月": "Month"}


def header_lookup(headers: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Every accepted spelling (also the canonical name itself), normalised, -> canonical name."""
    lookup: dict[str, str] = {}
    for canonical, spellings in headers.items():
        for spelling in (canonical, *spellings):
            lookup[normalise_header(spelling)] = canonical
    return lookup


def normalise_header(text: str) -> str:
    """Header comparison ignores case, surrounding blanks and a leading BOM."""
    return text.replace("\ufeff", "").strip().casefold()
