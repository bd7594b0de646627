-- materialized: partition
-- core.customer_service_performance: what a customer's lines of a service count toward HUAWEI
-- CLOUD's incentive performance, before the service's incentive policy and the resale test apply
-- (marts.incentive_reconciliation applies both). Performance is what the partner paid at settlement
-- price: amount due less what coupons and stored-value cards paid (docs/domain.md#incentives).
-- grain: bill_cycle × customer × service type. Source: staging.bill_line (Expenditure and Refund lines).
with lines as not materialized (
    select * from staging.bill_line where bill_cycle = $bill_cycle
),

eligible_lines as (
    select
        bill_cycle,
        customer_id,
        service_type_code,
        amount_due,
        coalesce(cash_coupon_amount, 0) + coalesce(voucher_amount, 0) + coalesce(stored_card_amount, 0)
            as coupon_paid_amount
    from lines
    where bill_type in ('Expenditure', 'Refund')
),

final as (
    select
        bill_cycle,
        customer_id,
        service_type_code,
        count(*) as line_count,
        cast(sum(amount_due) as decimal(38, 8)) as amount_due,
        cast(sum(coupon_paid_amount) as decimal(38, 8)) as coupon_paid_amount,
        cast(sum(amount_due - coupon_paid_amount) as decimal(38, 8)) as performance_amount
    from eligible_lines
    group by all
    order by customer_id, service_type_code
)

select * from final
