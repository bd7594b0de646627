-- materialized: partition
-- core.customer_coupon_use: what coupons paid on each customer's bill lines of a cycle, by coupon type.
-- Bill lines carry no coupon id, so coupon use is known per customer and coupon type only.
-- grain: bill_cycle × customer × coupon type ('cash_coupon', 'voucher'). Source: staging.bill_line
-- (every bill type: a refund gives coupon money back as a negative amount).
with lines as not materialized (
    select * from staging.bill_line where bill_cycle = $bill_cycle
),

coupon_payments as (
    select bill_cycle, customer_id, 'cash_coupon' as coupon_type, cash_coupon_amount as paid_amount
    from lines
    where coalesce(cash_coupon_amount, 0) <> 0

    union all

    select bill_cycle, customer_id, 'voucher' as coupon_type, voucher_amount as paid_amount
    from lines
    where coalesce(voucher_amount, 0) <> 0
),

final as (
    select
        bill_cycle,
        customer_id,
        coupon_type,
        count(*) as line_count,
        cast(sum(paid_amount) as decimal(38, 8)) as paid_amount
    from coupon_payments
    group by all
    order by customer_id, coupon_type
)

select * from final
