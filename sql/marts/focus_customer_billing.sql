-- materialized: view
-- marts.focus_customer_billing: what the partner bills each customer, as a FOCUS 1.2 cost and usage
-- dataset (docs/focus.md). The partner issues the invoice; HUAWEI CLOUD provides and publishes the
-- services; the billing account is the customer. HUAWEI CLOUD's settlement with the partner (its
-- discounts, coupons, adjustments) stays out: that is marts.focus_partner_cost.
-- grain: one line of a customer's bill (Expenditure or Refund) of a closed bill cycle.
-- Source: core.focus_charge (the bill lines with the customer charge of marts.customer_bill_line, read in
-- the same pass).
-- ListCost = official_amount; ContractedCost = BilledCost = EffectiveCost = the customer charge at the
-- agreed discount.
with charges as (
    select * from core.focus_charge
    -- the lines of a customer's bill, as marts.customer_bill_line keeps them
    where "x_BillType" in ('Expenditure', 'Refund')
),

final as (
    select
        charges.customer_charge_amount as "BilledCost",
        charges.customer_id as "BillingAccountId",
        coalesce(charges.customer_name, charges.customer_id) as "BillingAccountName",
        charges.customer_charge_amount as "ContractedCost",
        charges.customer_charge_amount as "EffectiveCost",
        charges.billed_partner_name as "InvoiceIssuerName",
        charges.official_amount as "ListCost",
        charges.* exclude (bill_cycle, src_member, src_record, customer_id, account_name, customer_name,
                           billed_partner_id, billed_partner_name, official_amount, discount_amount,
                           discount_types, truncated_amount, amount_due, cash_coupon_amount, voucher_amount,
                           stored_card_amount, customer_charge_amount, discount_rate, agreement_rule),
        charges.billed_partner_id as "x_PartnerId",
        charges.discount_rate as "x_DiscountRate",
        charges.agreement_rule as "x_AgreementRule"
    from charges
)

select * from final
