"""Column specifications of every file dataset: what each column is and how its text is parsed.

The parser (pipelines/lib/parsing.py) turns CSV text into typed polars columns from these specs;
the pandera models (schemas/bill_line.py, ...) then check the typed frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from schemas import aliases

ColumnKind = Literal["text", "money", "quantity", "rate", "int", "timestamp", "date", "cycle", "enum"]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: ColumnKind = "text"
    required: bool = False
    # enum: accepted spelling -> canonical value; an unknown spelling is kept as-is for the model to reject
    values: Mapping[str, str] | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str                      # e.g. "bill_line"; also the staging table name
    headers: Mapping[str, tuple[str, ...]]
    columns: tuple[ColumnSpec, ...]
    local_time_column: str | None = None  # GMT+8 time from which a local trade date is derived

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


_BILL_KINDS: dict[str, ColumnSpec] = {
    "bill_cycle": ColumnSpec("bill_cycle", "cycle", required=True),
    "customer_id": ColumnSpec("customer_id", required=True, max_length=64),
    "bill_type": ColumnSpec("bill_type", "enum", required=True, values=aliases.BILL_TYPE_VALUES),
    "billing_mode": ColumnSpec("billing_mode", "int", required=True),
    "service_type_code": ColumnSpec("service_type_code", required=True, max_length=64),
    "trade_id": ColumnSpec("trade_id", required=True),
    "trade_time": ColumnSpec("trade_time", "timestamp", required=True),
    "order_type": ColumnSpec("order_type", "enum", values=aliases.ORDER_TYPE_VALUES),
    "period_num": ColumnSpec("period_num", "int"),
    "period_unit": ColumnSpec("period_unit", "enum", values=aliases.PERIOD_UNIT_VALUES),
    "is_spot": ColumnSpec("is_spot", "enum", values={"Y": "Y", "N": "N"}),
    "usage_amount": ColumnSpec("usage_amount", "quantity"),
    "official_amount": ColumnSpec("official_amount", "money", required=True),
    "discount_amount": ColumnSpec("discount_amount", "money", required=True),
    "amount_due": ColumnSpec("amount_due", "money", required=True),
}
MONEY_COLUMNS_OPTIONAL = (
    "truncated_amount", "cash_amount", "credit_amount", "cash_coupon_amount", "voucher_amount",
    "stored_card_amount", "debt_amount", "writeoff_amount",
)
for _name in MONEY_COLUMNS_OPTIONAL:
    _BILL_KINDS[_name] = ColumnSpec(_name, "money")

BILL_LINE = DatasetSpec(
    name="bill_line",
    headers=aliases.BILL_LINE_HEADERS,
    columns=tuple(_BILL_KINDS.get(name, ColumnSpec(name)) for name in aliases.BILL_LINE_HEADERS),
    local_time_column="trade_time",
)

USAGE_LINE = DatasetSpec(
    name="usage_line",
    headers=aliases.USAGE_LINE_HEADERS,
    columns=tuple(
        # usage exports are indicative; the payment components are not in them
        _BILL_KINDS.get(name, ColumnSpec(name)) for name in aliases.USAGE_LINE_COLUMNS
    ),
    local_time_column="trade_time",
)

CUSTOMER_DISCOUNT = DatasetSpec(
    name="customer_discount",
    headers=aliases.CUSTOMER_DISCOUNT_HEADERS,
    columns=(
        ColumnSpec("customer_id", required=True, max_length=64),
        ColumnSpec("service_type_code", required=True),
        ColumnSpec("resource_type_code", required=True),
        ColumnSpec("discount_rate", "rate", required=True),
        ColumnSpec("valid_from", "date", required=True),
        ColumnSpec("valid_to", "date"),
    ),
)

INCENTIVE_STATEMENT = DatasetSpec(
    name="incentive_statement",
    headers=aliases.INCENTIVE_STATEMENT_HEADERS,
    columns=(
        ColumnSpec("statement_id", required=True),
        ColumnSpec("period", "cycle", required=True),
        ColumnSpec("incentive_type", required=True),
        ColumnSpec("service_type_code", max_length=64),   # empty: all products
        ColumnSpec("customer_id", max_length=64),         # empty: the partner itself
        ColumnSpec("performance_amount", "money"),
        ColumnSpec("incentive_rate", "rate"),
        ColumnSpec("incentive_amount", "money"),
        ColumnSpec("status", "enum", values=aliases.STATEMENT_STATUS_VALUES),
    ),
)

INCENTIVE_RATE = DatasetSpec(
    name="incentive_rate",
    headers=aliases.INCENTIVE_RATE_HEADERS,
    columns=(
        ColumnSpec("incentive_type", required=True),
        ColumnSpec("policy_code", "int", required=True),
        ColumnSpec("rate", "rate", required=True),
        ColumnSpec("valid_from", "date", required=True),
        ColumnSpec("valid_to", "date"),
    ),
)

CHART_OF_ACCOUNTS = DatasetSpec(
    name="chart_of_account",
    headers=aliases.CHART_OF_ACCOUNTS_HEADERS,
    columns=(
        ColumnSpec("account", required=True),
        ColumnSpec("account_code", required=True),
        ColumnSpec("account_name", required=True),
    ),
)

MONEY_COLUMNS_BILL = tuple(c.name for c in BILL_LINE.columns if c.kind == "money")
