"""API records → staging rows: which fields each staging table takes from a record, and how values
are typed (amounts as exact Decimals within DECIMAL(20,8), UTC times, codes, flags).

A record is one element of a snapshot's `records` (fields as the API named them, amounts written as
decimal strings). Each staging table has a row function that maps one record to its rows (usually
one; an order with sub-orders gives several) using the model's column names. A value that cannot be
typed raises `FieldProblem` with its kind, and the whole record is quarantined under the rule of that
kind (pipelines/lib/rejections.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandera.polars as pa
import polars as pl

from pipelines.lib.bss.datasets import QUOTING_TYPE_FIELD, SCOPE_FIELD
from pipelines.lib.rejections import rule_for
from schemas.api_benefits import ApiBudgetModel, ApiCouponModel, ApiPartnerCouponModel
from schemas.api_bills import (
    BILL_TYPE_OF_CODE,
    ApiCustomerMonthlySumModel,
    ApiInvoiceModel,
    ApiPartnerCreditModel,
    ApiPartnerMonthlyBillModel,
)
from schemas.api_customers import ASSOCIATION_OF_CODE, ApiCustomerModel, ApiIndirectPartnerModel
from schemas.api_orders import ApiOrderDiscountModel, ApiOrderModel
from schemas.api_policies import ApiBusinessDiscountModel, ApiIncentivePolicyModel
from schemas.api_reference import ApiMeasureUnitModel, ApiResourceTypeModel, ApiServiceTypeModel
from schemas.money import MONEY_LIMIT, MONEY_QUANTUM

_UTC_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]00:?00)?$")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}

# balance_type of the monthly sums' account_details → the bill-line payment column it corresponds to
BALANCE_COLUMNS = {
    "BALANCE_TYPE_DEBIT": "cash_amount",
    "BALANCE_TYPE_CREDIT": "credit_amount",
    "BALANCE_TYPE_BONUS": "bonus_amount",
    "BALANCE_TYPE_COUPON": "voucher_amount",
    "BALANCE_TYPE_RCASH_COUPON": "cash_coupon_amount",
    "BALANCE_TYPE_STORED_VALUE_CARD": "stored_card_amount",
}


class FieldProblem(ValueError):
    """A value that cannot be typed as its `kind` (money, int, timestamp, bool)."""

    def __init__(self, kind: str, column: str, value: Any):
        super().__init__(f"{column}: {value!r}")
        self.rule_id, self.column, self.value = rule_for("api", kind), column, value


# ------------------------------------------------------------------------------------------ typing values

def to_money(value: Any, column: str = "amount") -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or isinstance(value, float):
        # floats never reach here from our snapshots; one would already have lost cents
        raise FieldProblem("money", column, value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldProblem("money", column, value) from None
    if not amount.is_finite() or abs(amount) >= MONEY_LIMIT or amount != amount.quantize(MONEY_QUANTUM):
        raise FieldProblem("money", column, value)
    return amount.quantize(MONEY_QUANTUM)


def to_int(value: Any, column: str = "value") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldProblem("int", column, value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d{1,18}", text):
        raise FieldProblem("int", column, value)
    return int(text)


def to_utc(value: Any, column: str = "time") -> dt.datetime | None:
    if value is None or value == "":
        return None
    match = _UTC_TEXT.match(str(value).strip())
    if not match:
        raise FieldProblem("timestamp", column, value)
    try:
        moment = dt.datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{match.group(3) or ''}")
    except ValueError:
        raise FieldProblem("timestamp", column, value) from None
    return moment.replace(tzinfo=dt.UTC)


def to_bool(value: Any, column: str = "flag") -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldProblem("bool", column, value)


def to_text(value: Any, column: str = "text") -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return text if text.strip() else None


def type_value(value: Any, dtype: pl.DataType, column: str) -> Any:
    """A raw value as the polars dtype of its model column (the model is the typed schema)."""
    if isinstance(dtype, pl.Decimal):
        return to_money(value, column)
    if isinstance(dtype, pl.Datetime):
        return value if isinstance(value, dt.datetime) else to_utc(value, column)
    if dtype == pl.Date:
        return value
    if dtype.is_integer():
        return to_int(value, column)
    if dtype == pl.Boolean:
        return to_bool(value, column)
    return to_text(value, column)


@functools.cache
def model_dtypes(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    return {name: column.dtype.type for name, column in model.to_schema().columns.items()}


# ------------------------------------------------------------------------------------------ row functions

def _money_sum(values: list[Any], column: str) -> Decimal:
    return sum((to_money(v, column) or Decimal(0) for v in values), Decimal(0))


def _customer(r: dict) -> list[dict]:
    code = to_text(r.get("association_type"))
    managers = [m.get("account_name") for m in r.get("account_managers") or [] if isinstance(m, dict)]
    return [{
        "customer_id": r.get("customer_id"), "account_name": r.get("account_name"), "customer_name": r.get("customer"),
        "indirect_partner_id": r.get(SCOPE_FIELD), "association_type": code,
        "association": ASSOCIATION_OF_CODE.get(code or ""), "associated_on": r.get("associated_on"),
        "is_frozen": r.get("is_frozen"), "verified_status": r.get("verified_status"),
        "customer_type": r.get("customer_type"), "customer_level": r.get("customer_level"), "label": r.get("label"),
        "email": r.get("email"), "telephone": r.get("telephone"), "country_code": r.get("country_code"),
        "xaccount_id": r.get("xaccount_id"), "xaccount_type": r.get("xaccount_type"),
        "account_managers": "; ".join(m for m in managers if m) or None,
    }]


def _reseller(r: dict) -> list[dict]:
    return [{k: r.get(k) for k in ("indirect_partner_id", "account_name", "name", "associated_on",
                                   "account_manager_id", "account_manager_name", "email", "mobile_phone")}]


def _budget(r: dict) -> list[dict]:
    return [{"customer_id": r.get("customer_id"), "indirect_partner_id": r.get(SCOPE_FIELD),
             "budget_type": r.get("budget_type"), "budget_amount": r.get("budget_amount"),
             "used_amount": r.get("used_amount"), "measure_id": r.get("measure_id"), "currency": r.get("currency")}]


def _coupon(r: dict) -> list[dict]:
    keys = ("coupon_id", "coupon_code", "customer_id", "coupon_type", "status", "face_value", "balance", "currency",
            "coupon_version", "valid_time", "expire_time", "active_time", "create_time", "source_id",
            "promotion_plan_id", "plan_name", "fetch_method", "order_id", "is_frozen", "measure_id")
    return [{**{k: r.get(k) for k in keys}, "indirect_partner_id": r.get(SCOPE_FIELD)}]


def _partner_coupon(r: dict) -> list[dict]:
    keys = ("coupon_id", "customer_id", "coupon_type", "status", "face_value", "balance", "effective_time",
            "expire_time", "active_time", "create_time", "last_used_time", "promotion_plan_id",
            "promotion_plan_name", "fetch_method", "order_id", "is_frozen", "measure_id")
    return [{**{k: r.get(k) for k in keys}, "indirect_partner_id": r.get(SCOPE_FIELD)}]


def _order_parts(r: dict) -> list[tuple[dict, str | None]]:
    """The order, then the child orders of a combined order, each with its parent's id."""
    parts = [(r, None)]
    parts += [(child, r.get("order_id")) for child in r.get("sub_order_infos") or [] if isinstance(child, dict)]
    return parts


def _order(r: dict) -> list[dict]:
    rows = []
    for order, parent in _order_parts(r):
        info = order.get("amount_info") or {}
        discounts = [d for d in info.get("discounts") or [] if isinstance(d, dict)]
        agent = order.get("agent_pay_info") or {}
        codes = sorted({str(d.get("discount_type")) for d in discounts if d.get("discount_type") is not None})
        rows.append({
            "order_id": order.get("order_id"), "parent_order_id": parent, "customer_id": order.get("customer_id"),
            "indirect_partner_id": r.get(SCOPE_FIELD), "service_type_code": order.get("service_type_code"),
            "service_type_name": order.get("service_type_name"), "source_type": order.get("source_type"),
            "status": order.get("status"), "order_type": order.get("order_type"),
            "official_amount": order.get("official_amount"),
            "amount_after_discount": order.get("amount_after_discount"),
            "discount_amount": _money_sum([d.get("discount_amount") for d in discounts], "discount_amount"),
            # coupon_amount is paid by vouchers, flexipurchase_coupon_amount by cash coupons (docs/domain.md#amounts)
            "voucher_amount": info.get("coupon_amount"), "cash_coupon_amount": info.get("flexipurchase_coupon_amount"),
            "stored_card_amount": info.get("stored_card_amount"), "commission_amount": info.get("commission_amount"),
            "consumed_amount": info.get("consumed_amount"), "discount_types": ";".join(codes) or None,
            "measure_id": order.get("measure_id"), "currency": order.get("currency"),
            "create_time": order.get("create_time"), "payment_time": order.get("payment_time"),
            "contract_id": order.get("contract_id"), "is_agent_pay": agent.get("is_agent_pay"),
            "paying_agent_id": agent.get("paying_agent_id"),
        })
    return rows


def _order_discounts(r: dict) -> list[dict]:
    rows = []
    for order, _ in _order_parts(r):
        discounts = (order.get("amount_info") or {}).get("discounts") or []
        for seq, discount in enumerate((d for d in discounts if isinstance(d, dict)), start=1):
            rows.append({"order_id": order.get("order_id"), "customer_id": order.get("customer_id"),
                         "discount_seq": seq, "discount_type": discount.get("discount_type"),
                         "discount_amount": discount.get("discount_amount")})
    return rows


def _partner_bill(r: dict) -> list[dict]:
    keys = ("bill_cycle", "consume_amount", "refunds", "adjustments", "initial_amount_due", "tax_amount", "currency")
    return [{k: r.get(k) for k in keys}]


def _monthly_sum(r: dict) -> list[dict]:
    details = [d for d in r.get("account_details") or [] if isinstance(d, dict)]
    paid = {column: Decimal(0) for column in BALANCE_COLUMNS.values()}
    for detail in details:
        column = BALANCE_COLUMNS.get(str(detail.get("balance_type")))
        if column is not None:
            paid[column] += to_money(detail.get("amount"), column) or Decimal(0)
    code = to_text(r.get("bill_type"))
    return [{
        "customer_id": r.get("customer_id"), "indirect_partner_id": r.get(SCOPE_FIELD),
        "service_type_code": r.get("cloud_service_type"), "service_type_name": r.get("cloud_service_type_name"),
        "resource_type_code": r.get("resource_type_code"), "resource_type_name": r.get("resource_type_name"),
        "bill_type": code, "bill_type_name": BILL_TYPE_OF_CODE.get(code or ""), "charge_mode": r.get("charge_mode"),
        "amount": r.get("amount"), "debt_amount": r.get("debt_amount"),
        "adjustment_amount": r.get("adjustment_amount"), "discount_amount": r.get("discount_amount"),
        **paid, "account_details": details or None, "measure_id": r.get("measure_id"), "currency": r.get("currency"),
    }]


def _incentive_policy(r: dict) -> list[dict]:
    return [{"service_type_code": r.get("service_type_code"), "service_type_name": r.get("service_type_name"),
             "incentive_policy": r.get("incentive_policy"), "allow_discount": r.get("allow_discount")}]


def _business_discount(r: dict) -> list[dict]:
    regions = [g.get("region_code") for g in r.get("related_regions") or [] if isinstance(g, dict)]
    return [{
        "commerce_id": r.get("commerce_id"), "commerce_code": r.get("commerce_code"),
        "quoting_item_type": r.get(QUOTING_TYPE_FIELD), "item_id": r.get("item_id"),
        "service_type_code": r.get("cloud_service_type"), "service_type_name": r.get("cloud_service_type_name"),
        "resource_type_code": r.get("resource_type_code"), "product_id": r.get("product_id"),
        "product_spec_name": r.get("product_spec_name"), "charging_mode": r.get("charging_mode"),
        "site_code": r.get("site_code"), "region_code": r.get("region_code") or ";".join(filter(None, regions)) or None,
        "discount_ratio": r.get("discount_ratio"), "sales_price": r.get("sales_price"),
        "effective_time": r.get("effective_time"), "expire_time": r.get("expire_time"),
    }]


def _credit(r: dict) -> list[dict]:
    keys = ("consumption_quota", "amount", "coupon_amount", "due_amount", "unbilled_amount",
            "used_consumption_quota", "measure_id", "currency")
    return [{k: r.get(k) for k in keys}]


def _invoice(r: dict) -> list[dict]:
    taxes = [t for t in r.get("taxList") or [] if isinstance(t, dict)]
    return [{
        "request_id": r.get("requestId"), "invoice_no": r.get("invoiceNo"), "bill_cycle": r.get("billCycle"),
        "invoice_amount": r.get("invoiceAmount"),
        "tax_amount": _money_sum([t.get("taxAmount") for t in taxes], "tax_amount") if taxes else None,
        "invoice_state": r.get("invoiceState"), "invoice_method": r.get("invoiceMethod"),
        "invoice_type": r.get("invoiceType"), "trade_type": r.get("tradeType"), "request_mode": r.get("requestMode"),
        "src_request_id": r.get("srcRequestId"), "apply_time": r.get("applyTime"), "tax_list": taxes or None,
    }]


def _fields(*keys: str) -> Callable[[dict], list[dict]]:
    return lambda r: [{k: r.get(k) for k in keys}]


# ------------------------------------------------------------------------------------------ findings

@dataclass(frozen=True)
class Finding:
    record_number: int
    rule_id: str
    reference: str | None
    expected: Decimal
    actual: Decimal
    customer_id: str | None = None

    @property
    def difference(self) -> Decimal:
        return self.actual - self.expected


def _partner_bill_findings(frame: pl.DataFrame) -> list[Finding]:
    found = []
    for row in frame.iter_rows(named=True):
        expected = row["consume_amount"] + row["refunds"] + row["adjustments"]
        if row["initial_amount_due"] != expected:
            found.append(Finding(row["src_record"], "API.PARTNER_BILL_IDENTITY", row["bill_cycle"], expected,
                                 row["initial_amount_due"]))
    return found


def _credit_findings(frame: pl.DataFrame) -> list[Finding]:
    found = []
    for row in frame.iter_rows(named=True):
        expected = row["due_amount"] + row["unbilled_amount"] - row["amount"] - row["coupon_amount"]
        if row["used_consumption_quota"] != expected:
            found.append(Finding(row["src_record"], "API.CREDIT_IDENTITY", None, expected,
                                 row["used_consumption_quota"]))
    return found


# ------------------------------------------------------------------------------------------ the tables

@dataclass(frozen=True)
class StagedTable:
    table: str
    model: type[pa.DataFrameModel]
    rows: Callable[[dict], list[dict]]
    key: tuple[str, ...] = ()        # a second record with the same key in one pull is a duplicate


@dataclass(frozen=True)
class DatasetStaging:
    main: StagedTable                # one or more rows per record; its row count is what "loaded" counts
    children: tuple[StagedTable, ...] = ()
    findings: Callable[[pl.DataFrame], list[Finding]] | None = None

    @property
    def tables(self) -> tuple[StagedTable, ...]:
        return (self.main, *self.children)


STAGING: dict[str, DatasetStaging] = {
    "customers": DatasetStaging(StagedTable("staging.api_customer", ApiCustomerModel, _customer, ("customer_id",))),
    "resellers": DatasetStaging(StagedTable("staging.api_indirect_partner", ApiIndirectPartnerModel, _reseller,
                                            ("indirect_partner_id",))),
    "budgets": DatasetStaging(StagedTable("staging.api_budget", ApiBudgetModel, _budget, ("customer_id",))),
    "coupons": DatasetStaging(StagedTable("staging.api_coupon", ApiCouponModel, _coupon, ("coupon_id",))),
    "partner_coupons": DatasetStaging(StagedTable("staging.api_partner_coupon", ApiPartnerCouponModel,
                                                  _partner_coupon, ("coupon_id",))),
    "orders": DatasetStaging(
        StagedTable("staging.api_order", ApiOrderModel, _order, ("order_id",)),
        children=(StagedTable("staging.api_order_discount", ApiOrderDiscountModel, _order_discounts),),
    ),
    "partner_monthly_bill": DatasetStaging(
        StagedTable("staging.api_partner_monthly_bill", ApiPartnerMonthlyBillModel, _partner_bill, ("bill_cycle",)),
        findings=_partner_bill_findings),
    "customer_monthly_sums": DatasetStaging(
        StagedTable("staging.api_customer_monthly_sum", ApiCustomerMonthlySumModel, _monthly_sum)),
    "incentive_policies": DatasetStaging(StagedTable("staging.api_incentive_policy", ApiIncentivePolicyModel,
                                                     _incentive_policy, ("service_type_code",))),
    "business_discounts": DatasetStaging(StagedTable("staging.api_business_discount", ApiBusinessDiscountModel,
                                                     _business_discount, ("quoting_item_type", "item_id"))),
    "partner_credit": DatasetStaging(StagedTable("staging.api_partner_credit", ApiPartnerCreditModel, _credit),
                                     findings=_credit_findings),
    "invoices": DatasetStaging(StagedTable("staging.api_invoice", ApiInvoiceModel, _invoice, ("request_id",))),
    "service_types": DatasetStaging(StagedTable(
        "staging.api_service_type", ApiServiceTypeModel,
        _fields("service_type_code", "service_type_name", "abbreviation"), ("service_type_code",))),
    "resource_types": DatasetStaging(StagedTable(
        "staging.api_resource_type", ApiResourceTypeModel,
        _fields("resource_type_code", "resource_type_name", "resource_type_desc", "service_type_code"),
        ("resource_type_code",))),
    "measure_units": DatasetStaging(StagedTable(
        "staging.api_measure_unit", ApiMeasureUnitModel,
        _fields("measure_id", "measure_name", "abbreviation", "measure_type"), ("measure_id",))),
}
