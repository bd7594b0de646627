-- materialized: view
-- marts.focus_partner_cost: what HUAWEI CLOUD bills the partner, as a FOCUS 1.2 cost and usage dataset
-- (docs/focus.md). HUAWEI CLOUD issues the invoice and provides and publishes the services; the billing
-- account is the partner, each customer a sub account.
-- grain: one bill line (Expenditure, Refund, Adjustment) of a closed bill cycle.
-- Source: core.focus_charge (the bill lines with HUAWEI CLOUD's amounts).
-- ListCost = official_amount; ContractedCost = list − HUAWEI CLOUD's discounts on the line (the partner's
-- commercial contract and the other discounts HUAWEI CLOUD grants it); BilledCost = amount_due, which
-- still includes what coupons, vouchers and stored-value cards paid; EffectiveCost = BilledCost − that
-- coupon-paid part, the cost the partner bears. Refunds keep their category with negative amounts.
with charges as (
    select * from core.focus_charge
),

final as (
    select
        charges.amount_due as "BilledCost",
        charges.billed_partner_id as "BillingAccountId",
        charges.billed_partner_name as "BillingAccountName",
        (charges.official_amount - charges.discount_amount)::decimal(20, 8) as "ContractedCost",
        (charges.amount_due - coalesce(charges.cash_coupon_amount, 0) - coalesce(charges.voucher_amount, 0)
            - coalesce(charges.stored_card_amount, 0))::decimal(20, 8) as "EffectiveCost",
        'HUAWEI CLOUD' as "InvoiceIssuerName",
        charges.official_amount as "ListCost",
        charges.customer_id as "SubAccountId",
        coalesce(charges.account_name, charges.customer_name, charges.customer_id) as "SubAccountName",
        case when charges."x_ResellerId" is not null then 'Reseller customer' else 'Customer' end
            as "SubAccountType",
        -- the FOCUS and x_ columns both views share, as core.focus_charge names them (its keys are lower-case)
        columns('^([A-Z]|x_)'),
        charges.discount_types as "x_DiscountTypes",
        charges.discount_amount as "x_DiscountAmount",
        coalesce(charges.truncated_amount, 0)::decimal(20, 8) as "x_TruncatedAmount",
        coalesce(charges.cash_coupon_amount, 0)::decimal(20, 8) as "x_CashCouponAmount",
        coalesce(charges.voucher_amount, 0)::decimal(20, 8) as "x_VoucherAmount",
        coalesce(charges.stored_card_amount, 0)::decimal(20, 8) as "x_StoredCardAmount"
    from charges
)

select * from final
