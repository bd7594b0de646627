-- materialized: view
-- marts.focus_customer_billing: what the partner bills each customer, as a FOCUS 1.2 cost and usage
-- dataset (docs/focus.md). The partner issues the invoice; HUAWEI CLOUD provides and publishes the
-- services; the billing account is the customer. HUAWEI CLOUD's settlement with the partner (its
-- discounts, coupons, adjustments) stays out: that is marts.focus_partner_cost.
-- grain: one line of a customer's bill (Expenditure or Refund) of a closed bill cycle.
-- Source: marts.customer_bill_line (the customer charge), core.focus_charge.
-- ListCost = official_amount; ContractedCost = BilledCost = EffectiveCost = the customer charge at the
-- agreed discount.
with bill_lines as not materialized (
    select * from marts.customer_bill_line
),

charges as not materialized (
    select * from core.focus_charge
),

final as (
    select
        bill_lines.customer_charge_amount as "BilledCost",
        bill_lines.customer_id as "BillingAccountId",
        coalesce(bill_lines.customer_name, bill_lines.customer_id) as "BillingAccountName",
        bill_lines.customer_charge_amount as "ContractedCost",
        bill_lines.customer_charge_amount as "EffectiveCost",
        charges.billed_partner_name as "InvoiceIssuerName",
        bill_lines.official_amount as "ListCost",
        charges.* exclude (bill_cycle, src_member, src_record, customer_id, account_name, customer_name,
                           billed_partner_id, billed_partner_name, official_amount, discount_amount,
                           discount_types, truncated_amount, amount_due, cash_coupon_amount, voucher_amount,
                           stored_card_amount),
        charges.billed_partner_id as "x_PartnerId",
        bill_lines.discount_rate as "x_DiscountRate",
        bill_lines.agreement_rule as "x_AgreementRule"
    from bill_lines
    join charges using (bill_cycle, src_member, src_record)
)

select * from final
