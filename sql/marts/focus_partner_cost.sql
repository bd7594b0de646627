-- materialized: view
-- marts.focus_partner_cost: what HUAWEI CLOUD bills the partner, as a FOCUS 1.2 cost and usage dataset
-- (docs/focus.md). HUAWEI CLOUD issues the invoice and provides and publishes the services; the billing
-- account is the partner, each customer a sub account.
-- grain: one bill line (Expenditure, Refund, Adjustment) of a closed bill cycle.
-- Source: staging.bill_line (HUAWEI CLOUD's amounts), core.focus_charge.
-- ListCost = official_amount; ContractedCost = list − HUAWEI CLOUD's discounts on the line (the partner's
-- commercial contract and the other discounts HUAWEI CLOUD grants it); BilledCost = amount_due, which
-- still includes what coupons, vouchers and stored-value cards paid; EffectiveCost = BilledCost − that
-- coupon-paid part, the cost the partner bears. Refunds keep their category with negative amounts.
with lines as not materialized (
    select * from staging.bill_line
),

charges as not materialized (
    select * from core.focus_charge
),

final as (
    select
        lines.amount_due as "BilledCost",
        charges.billed_partner_id as "BillingAccountId",
        charges.billed_partner_name as "BillingAccountName",
        (lines.official_amount - lines.discount_amount)::decimal(20, 8) as "ContractedCost",
        (lines.amount_due - coalesce(lines.cash_coupon_amount, 0) - coalesce(lines.voucher_amount, 0)
            - coalesce(lines.stored_card_amount, 0))::decimal(20, 8) as "EffectiveCost",
        'HUAWEI CLOUD' as "InvoiceIssuerName",
        lines.official_amount as "ListCost",
        charges.customer_id as "SubAccountId",
        coalesce(charges.account_name, charges.customer_name, charges.customer_id) as "SubAccountName",
        case when charges."x_ResellerId" is not null then 'Reseller customer' else 'Customer' end
            as "SubAccountType",
        charges.* exclude (bill_cycle, src_member, src_record, customer_id, account_name, customer_name,
                           billed_partner_id, billed_partner_name),
        lines.discount_types as "x_DiscountTypes",
        lines.discount_amount as "x_DiscountAmount",
        coalesce(lines.truncated_amount, 0)::decimal(20, 8) as "x_TruncatedAmount",
        coalesce(lines.cash_coupon_amount, 0)::decimal(20, 8) as "x_CashCouponAmount",
        coalesce(lines.voucher_amount, 0)::decimal(20, 8) as "x_VoucherAmount",
        coalesce(lines.stored_card_amount, 0)::decimal(20, 8) as "x_StoredCardAmount"
    from lines
    join charges using (bill_cycle, src_member, src_record)
)

select * from final
