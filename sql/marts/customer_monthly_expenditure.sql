-- materialized: partition
-- marts.customer_monthly_expenditure: what each customer consumed, what HUAWEI CLOUD charged the
-- partner for it, what the partner bills the customer (customer_refund_amount: the part of it given
-- back on refunds, priced from their original orders), and the margin.
-- grain: bill_cycle × customer × service type. Source: core.rated_bill_line.
with rated as (
    select * from core.rated_bill_line where bill_cycle = $bill_cycle
),

-- Summed per bill type first, then split into the mart's columns: each line then feeds plain sums,
-- not twenty filtered ones (the mart of ten million lines: 9.5 → 7.8 CPU-s, the same rows).
by_bill_type as (
    select
        bill_cycle,
        customer_id,
        service_type_code,
        bill_type,
        max(customer_name) as customer_name,
        max(partner_id) as partner_id,
        max(partner_name) as partner_name,
        max(service_type_name) as service_type_name,
        count(*) as line_count,
        sum(official_amount) as official_amount,
        sum(discount_amount) as discount_amount,
        sum(truncated_amount) as truncated_amount,
        sum(amount_due) as amount_due,
        sum(cash_amount) as cash_amount,
        sum(credit_amount) as credit_amount,
        sum(cash_coupon_amount) as cash_coupon_amount,
        sum(voucher_amount) as voucher_amount,
        sum(stored_card_amount) as stored_card_amount,
        sum(coupon_paid_amount) as coupon_paid_amount,
        sum(debt_amount) as debt_amount,
        sum(customer_charge_amount) as customer_charge_amount,
        count(*) filter (where not has_agreement) as unmatched_agreement_line_count
    from rated
    group by bill_cycle, customer_id, service_type_code, bill_type
),

by_customer_service as (
    select
        bill_cycle,
        customer_id,
        service_type_code,
        max(customer_name) as customer_name,
        max(partner_id) as partner_id,
        max(partner_name) as partner_name,
        max(service_type_name) as service_type_name,
        sum(line_count)::bigint as line_count,
        coalesce(sum(line_count) filter (where bill_type = 'Expenditure'), 0)::bigint as expenditure_line_count,
        coalesce(sum(line_count) filter (where bill_type = 'Refund'), 0)::bigint as refund_line_count,
        coalesce(sum(line_count) filter (where bill_type = 'Adjustment'), 0)::bigint as adjustment_line_count,
        coalesce(sum(official_amount) filter (where bill_type = 'Expenditure'), 0) as official_amount,
        coalesce(sum(discount_amount) filter (where bill_type = 'Expenditure'), 0) as discount_amount,
        coalesce(sum(truncated_amount) filter (where bill_type = 'Expenditure'), 0) as truncated_amount,
        coalesce(sum(amount_due) filter (where bill_type = 'Expenditure'), 0) as amount_due,
        coalesce(sum(cash_amount) filter (where bill_type = 'Expenditure'), 0) as cash_amount,
        coalesce(sum(credit_amount) filter (where bill_type = 'Expenditure'), 0) as credit_amount,
        coalesce(sum(cash_coupon_amount) filter (where bill_type = 'Expenditure'), 0) as cash_coupon_amount,
        coalesce(sum(voucher_amount) filter (where bill_type = 'Expenditure'), 0) as voucher_amount,
        coalesce(sum(stored_card_amount) filter (where bill_type = 'Expenditure'), 0) as stored_card_amount,
        coalesce(sum(coupon_paid_amount) filter (where bill_type = 'Expenditure'), 0) as coupon_paid_amount,
        coalesce(sum(debt_amount) filter (where bill_type = 'Expenditure'), 0) as debt_amount,
        coalesce(sum(amount_due) filter (where bill_type = 'Refund'), 0) as refund_amount,
        coalesce(sum(amount_due) filter (where bill_type = 'Adjustment'), 0) as adjustment_amount,
        sum(customer_charge_amount) as customer_charge_amount,
        coalesce(sum(customer_charge_amount) filter (where bill_type = 'Refund'), 0) as customer_refund_amount,
        coalesce(sum(unmatched_agreement_line_count) filter (where bill_type <> 'Adjustment'), 0)::bigint
            as unmatched_agreement_line_count
    from by_bill_type
    group by bill_cycle, customer_id, service_type_code
),
final as (
    select
        bill_cycle,
        customer_id,
        customer_name,
        partner_id,
        partner_name,
        service_type_code,
        service_type_name,
        line_count,
        expenditure_line_count,
        refund_line_count,
        adjustment_line_count,
        official_amount::decimal(38, 8) as official_amount,
        discount_amount::decimal(38, 8) as discount_amount,
        truncated_amount::decimal(38, 8) as truncated_amount,
        amount_due::decimal(38, 8) as amount_due,
        cash_amount::decimal(38, 8) as cash_amount,
        credit_amount::decimal(38, 8) as credit_amount,
        cash_coupon_amount::decimal(38, 8) as cash_coupon_amount,
        voucher_amount::decimal(38, 8) as voucher_amount,
        stored_card_amount::decimal(38, 8) as stored_card_amount,
        coupon_paid_amount::decimal(38, 8) as coupon_paid_amount,
        debt_amount::decimal(38, 8) as debt_amount,
        refund_amount::decimal(38, 8) as refund_amount,
        adjustment_amount::decimal(38, 8) as adjustment_amount,
        customer_charge_amount::decimal(38, 8) as customer_charge_amount,
        customer_refund_amount::decimal(38, 8) as customer_refund_amount,
        (customer_charge_amount - (amount_due + refund_amount))::decimal(38, 8) as margin_amount,
        unmatched_agreement_line_count
    from by_customer_service
    order by customer_id, service_type_code
)

select * from final
