-- materialized: view
-- marts.focus_customer_billing: what the partner bills each customer, as a FOCUS 1.2 cost and usage
-- dataset (docs/focus.md). The partner issues the invoice; HUAWEI CLOUD provides and publishes the
-- services; the billing account is the customer. HUAWEI CLOUD's settlement with the partner (its
-- discounts, coupons, adjustments) stays out: that is marts.focus_partner_cost.
-- grain: one line of a customer's bill (Expenditure or Refund) of a closed bill cycle.
-- Source: core.focus_charge (the bill lines with the customer charge of marts.customer_bill_line, read in
-- the same pass).
-- ContractedCost = BilledCost = EffectiveCost = the customer charge at the agreed discount. ListCost =
-- official_amount, except on a Refund line, whose official amount is what HUAWEI CLOUD refunds after
-- its own discount: the customer gets back a share of its original order (docs/reconciliation.md), and
-- the list price of that share is the customer charge ÷ (1 − the agreed rate), exact to 1e-8 (DuckDB
-- divides decimals as floats, so whole units are divided, rounded half away from zero).
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
        case
            when charges."x_BillType" = 'Refund' and charges.discount_rate < 1 then
                (sign(charges.customer_charge_amount)
                 * ((2 * abs((charges.customer_charge_amount * 100000000)::hugeint) * 1000000
                     + ((1 - charges.discount_rate) * 1000000)::hugeint)
                    // (2 * ((1 - charges.discount_rate) * 1000000)::hugeint)))::decimal(38, 0)
                * 0.00000001::decimal(9, 8)
            else charges.official_amount
        end::decimal(20, 8) as "ListCost",
        -- the FOCUS and x_ columns both views share, as core.focus_charge names them (its keys are lower-case)
        columns('^([A-Z]|x_)'),
        charges.billed_partner_id as "x_PartnerId",
        charges.discount_rate as "x_DiscountRate",
        charges.agreement_rule as "x_AgreementRule"
    from charges
)

select * from final
