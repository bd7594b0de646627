"""The BSS API's monthly bills and the partner's account: the partner's monthly bill, the customer
monthly sums, the partner's credit and its invoices, each summed from the world's bill lines (part of
`ApiData`, sandbox/api_data.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

import polars as pl

from .api_codes import (
    BALANCE_TYPE_OF_COLUMN,
    BILL_TYPE_CODES,
    CHARGE_MODE_OF_BILLING_MODE,
    COUPON_PAID_COLUMNS,
    CURRENCY,
    MONEY_MEASURE_ID,
    PARTNER_TAX_RATE,
    Record,
    as_decimal,
    cents,
    money_text,
    round_up,
    stable_id,
    utc_text,
)
from .months import add_months, date_of, month_start


def _money_sums(frame: pl.DataFrame, keys: list[str], columns: tuple[str, ...]) -> pl.DataFrame:
    return frame.group_by(keys).agg(pl.col(c).sum() for c in columns)


class BillRecords:
    """Monthly bills and sums, the partner's credit and invoices.

    A part of `ApiData` (sandbox/api_data.py), which holds the world, the seed and the API's now
    (`as_of`) these datasets read.
    """

    def bill_totals(self, cycle: str) -> dict[str, Decimal] | None:
        """Σ amount_due by bill type and Σ coupon-paid amounts of a closed month's bill lines."""
        if cycle not in self.world.closed_months:
            return None
        if cycle not in self._bill_totals:
            lines = self.world.bill_lines[cycle]
            by_type = dict(lines.group_by("bill_type").agg(pl.col("amount_due").sum()).iter_rows())
            coupons = lines.select(pl.sum_horizontal(COUPON_PAID_COLUMNS).sum()).item()
            self._bill_totals[cycle] = {
                "consume": as_decimal(by_type.get("Expenditure")),
                "refunds": as_decimal(by_type.get("Refund")),
                "adjustments": as_decimal(by_type.get("Adjustment")),
                "coupon_paid": as_decimal(coupons),
            }
        return self._bill_totals[cycle]

    def _tax(self, totals: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
        """(taxable amount, tax): the partner pays the amount due less what coupons paid, plus tax."""
        due = totals["consume"] + totals["refunds"] + totals["adjustments"]
        taxable = due - totals["coupon_paid"]
        return taxable, cents(taxable * PARTNER_TAX_RATE)

    def partner_bill(self, cycle: str) -> Record | None:
        """Grain: bill cycle (ListPostpaidBillSum). Source: the month's bill lines:
        consume_amount = Σ amount_due of Expenditure lines, refunds = Σ of Refund lines,
        adjustments = Σ of Adjustment lines, initial_amount_due = their sum; tax_amount (outside the
        amount due) = PARTNER_TAX_RATE × (amount due − coupon-paid amounts), to the cent.
        None for a month without a bill (not a closed month of the world)."""
        if cycle not in self._partner_bills:
            totals = self.bill_totals(cycle)
            if totals is None:
                self._partner_bills[cycle] = None
            else:
                self._partner_bills[cycle] = {
                    "bill_cycle": cycle,
                    "initial_amount_due": totals["consume"] + totals["refunds"] + totals["adjustments"],
                    "consume_amount": totals["consume"],
                    "refunds": totals["refunds"],
                    "adjustments": totals["adjustments"],
                    "tax_amount": self._tax(totals)[1],
                    "currency": CURRENCY,
                }
        return self._partner_bills[cycle]

    def customer_monthly_sums(self, cycle: str) -> list[Record]:
        """Grain: bill cycle × customer × service type × resource type × bill type × charge mode
        (BillSumInfoV2 of ListSubcustomerMonthlyBills). Source: the month's bill lines; bill_type
        0/1/2 = Expenditure/Refund/Adjustment lines, amount = Σ amount_due (so Σ amount of a
        customer = the customer's total in the bill file), debt_amount = Σ debt, adjustment_amount =
        Σ written-off arrears, discount_amount = Σ discount, account_details = Σ per payment column.
        Empty for a month that is not a closed month of the world."""
        if cycle not in self._monthly_sums:
            self._monthly_sums[cycle] = self._build_monthly_sums(cycle)
        return self._monthly_sums[cycle]

    def _build_monthly_sums(self, cycle: str) -> list[Record]:
        if cycle not in self.world.closed_months:
            return []
        lines = self.world.bill_lines[cycle].with_columns(
            pl.col("billing_mode").replace_strict(CHARGE_MODE_OF_BILLING_MODE, return_dtype=pl.String)
            .alias("charge_mode"),
            pl.col("bill_type").replace_strict(BILL_TYPE_CODES, return_dtype=pl.String).alias("bill_type_code"),
        )
        keys = ["customer_id", "service_type_code", "service_type_name", "resource_type_code",
                "resource_type_name", "bill_type_code", "charge_mode"]
        columns = ("amount_due", "debt_amount", "writeoff_amount", "discount_amount",
                   *(column for column, _ in BALANCE_TYPE_OF_COLUMN))
        sums = _money_sums(lines, keys, columns).sort(keys)
        records = []
        for row in sums.iter_rows(named=True):
            records.append({
                "customer_id": row["customer_id"],
                "cloud_service_type": row["service_type_code"],
                "cloud_service_type_name": row["service_type_name"],
                "bill_type": row["bill_type_code"],
                "charge_mode": row["charge_mode"],
                "amount": row["amount_due"],
                "debt_amount": row["debt_amount"],
                "adjustment_amount": row["writeoff_amount"],
                "discount_amount": row["discount_amount"],
                "measure_id": MONEY_MEASURE_ID,
                "account_details": [
                    {"balance_type": balance_type, "amount": row[column], "bill_type": row["bill_type_code"]}
                    for column, balance_type in BALANCE_TYPE_OF_COLUMN if row[column] != 0
                ],
                "resource_type_code": row["resource_type_code"],
                "resource_type_name": row["resource_type_name"],
            })
        return records

    # ------------------------------------------------------------------------------ partner account

    @functools.cached_property
    def consumption_quota(self) -> Record:
        """The partner's credit (ShowPartnerConsumptionQuota); every amount is a STRING, as in the
        real API. due_amount = the last closed month's amount due less coupon-paid amounts plus tax
        (unpaid at as_of); unbilled_amount = Σ amount_due of the newest usage export (the open month
        so far); used_consumption_quota = due + unbilled − amount − coupon_amount exactly."""
        last = self.bill_totals(self.world.closed_months[-1])
        taxable, tax = self._tax(last)
        due = taxable + tax
        unbilled = Decimal(0)
        if self.newest_export is not None:
            unbilled = as_decimal(self.world.usage_exports[self.newest_export]["amount_due"].sum())
        biggest = max(self.bill_totals(m)["consume"] for m in self.world.closed_months)
        quota = max(round_up(biggest * 3, 10_000), Decimal(10_000))
        balance, coupon_balance = Decimal("1500.00"), Decimal("250.00")
        used = due + unbilled - balance - coupon_balance
        return {
            "consumption_quota": money_text(quota),
            "amount": money_text(balance),
            "coupon_amount": money_text(coupon_balance),
            "due_amount": money_text(due),
            "unbilled_amount": money_text(unbilled),
            "used_consumption_quota": money_text(used),
            "measure_id": MONEY_MEASURE_ID,
            "currency": CURRENCY,
        }

    @functools.cached_property
    def invoices(self) -> list[Record]:
        """Grain: invoice (InvoiceRequestInfoIntl, camelCase). One monthly-settlement invoice per
        closed month, applied at 14:00 GMT+8 on the 5th of the next month (after the bill), listed
        only once applied by as_of. invoiceAmount = amount due − coupon-paid amounts + tax."""
        records = []
        for cycle in self.world.closed_months:
            applied = dt.datetime.combine(date_of(month_start(add_months(cycle, 1))), dt.time(14)) \
                + dt.timedelta(days=4)
            if applied > self.as_of:
                continue
            taxable, tax = self._tax(self.bill_totals(cycle))
            records.append({
                "requestId": stable_id("IR", self.seed, cycle, length=18).upper(),
                "titleType": 1,
                "invoiceType": 1,
                "invoiceTitle": self.partner_name,
                "invoiceAmount": taxable + tax,
                "invoiceMethod": 0,
                "invoiceClass": 0,
                "invoiceState": 8,
                "applyTime": utc_text(applied),
                "invoiceMode": "1",
                "email": "fi***@example.com",
                "requestMode": "0",
                "invoiceNo": f"INV{cycle.replace('-', '')}{self.partner_id[:6].upper()}",
                "tradeType": 6,
                "billCycle": cycle,
                "taxList": [{"taxClass": "VAT", "taxRate": format(PARTNER_TAX_RATE.normalize(), "f"),
                             "subTaxClass": "VAT", "taxAmount": tax, "taxVisibleFlag": "1",
                             "taxAccountingFlag": "1"}],
            })
        return records
