"""pandera models of HUAWEI CLOUD's monthly bill, the customers' monthly sums, the partner's credit
and its invoices from the BSS API (docs/domain.md#the-partners-monthly-bill-and-credit). Amount
identities are findings, not rejections (pipelines/lib/bss/staging.py), as for bill lines."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.api_common import UTC_TIME, ApiRecord, CycleRecord, InMajorUnits, SnapshotRecord
from schemas.bill_cycle import CYCLE_PATTERN
from schemas.money import MONEY

# bill_type of the monthly sums: 0 consumption, 1 unsubscribe (refund), 2 HUAWEI CLOUD write-off;
# named as the bill files name their bill types, so the two tie out by component
BILL_TYPE_OF_CODE = {"0": "Expenditure", "1": "Refund", "2": "Adjustment"}


class ApiPartnerMonthlyBillModel(CycleRecord):
    """staging.api_partner_monthly_bill: HUAWEI CLOUD's bill to the partner for one cycle."""

    consume_amount: MONEY = pa.Field(nullable=False)
    refunds: MONEY = pa.Field(nullable=False)
    adjustments: MONEY = pa.Field(nullable=False)
    initial_amount_due: MONEY = pa.Field(nullable=False)
    tax_amount: MONEY = pa.Field(nullable=True)
    currency: str = pa.Field(nullable=True)


class ApiCustomerMonthlySumModel(CycleRecord, InMajorUnits):
    """staging.api_customer_monthly_sum: one customer × service × resource type × bill type × charge mode."""

    customer_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 64})
    indirect_partner_id: str = pa.Field(nullable=True)
    service_type_code: str = pa.Field(nullable=True)
    service_type_name: str = pa.Field(nullable=True)
    resource_type_code: str = pa.Field(nullable=True)
    resource_type_name: str = pa.Field(nullable=True)
    bill_type: str = pa.Field(nullable=False, isin=sorted(BILL_TYPE_OF_CODE))
    bill_type_name: str = pa.Field(nullable=False, isin=sorted(set(BILL_TYPE_OF_CODE.values())))
    charge_mode: str = pa.Field(nullable=True)
    amount: MONEY = pa.Field(nullable=False)
    debt_amount: MONEY = pa.Field(nullable=True)
    adjustment_amount: MONEY = pa.Field(nullable=True)
    discount_amount: MONEY = pa.Field(nullable=True)
    cash_amount: MONEY = pa.Field(nullable=False)
    credit_amount: MONEY = pa.Field(nullable=False)
    bonus_amount: MONEY = pa.Field(nullable=False)
    voucher_amount: MONEY = pa.Field(nullable=False)
    cash_coupon_amount: MONEY = pa.Field(nullable=False)
    stored_card_amount: MONEY = pa.Field(nullable=False)
    account_details: str = pa.Field(nullable=True)
    currency: str = pa.Field(nullable=True)


class ApiPartnerCreditModel(SnapshotRecord, InMajorUnits):
    """staging.api_partner_credit: one reading of the partner's credit per snapshot date."""

    consumption_quota: MONEY = pa.Field(nullable=False)
    amount: MONEY = pa.Field(nullable=False)
    coupon_amount: MONEY = pa.Field(nullable=False)
    due_amount: MONEY = pa.Field(nullable=False)
    unbilled_amount: MONEY = pa.Field(nullable=False)
    used_consumption_quota: MONEY = pa.Field(nullable=False)
    currency: str = pa.Field(nullable=True)


class ApiInvoiceModel(ApiRecord):
    """staging.api_invoice: one invoice to the partner (latest pull)."""

    request_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    invoice_no: str = pa.Field(nullable=True)
    bill_cycle: str = pa.Field(nullable=True, str_matches=CYCLE_PATTERN)
    invoice_amount: MONEY = pa.Field(nullable=True)
    tax_amount: MONEY = pa.Field(nullable=True)
    invoice_state: pl.Int64 = pa.Field(nullable=True)
    invoice_method: pl.Int64 = pa.Field(nullable=True)
    invoice_type: pl.Int64 = pa.Field(nullable=True)
    trade_type: pl.Int64 = pa.Field(nullable=True)
    request_mode: str = pa.Field(nullable=True)
    src_request_id: str = pa.Field(nullable=True)
    apply_time: UTC_TIME = pa.Field(nullable=True)
    tax_list: str = pa.Field(nullable=True)
