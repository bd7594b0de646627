-- materialized: partition
-- core.coupon_expiry_finding: bill lines of the cycle paid partly by a coupon type of which the
-- customer held no coupon valid at the line's trade time (valid_time ≤ trade time < expire_time, UTC).
-- grain: bill line × coupon type (reference = trade_id). Source: staging.bill_line, core.current_coupon
-- (every coupon of the newest snapshot, expired ones included).
with lines as not materialized (
    select * from staging.bill_line where bill_cycle = $bill_cycle
),

coupons as (
    select * from core.current_coupon
),

rules as (
    select rule_id, area as check_area, severity, title, action from audit.rules
),

coupon_payments as (
    select customer_id, trade_id, trade_time, 'cash_coupon' as coupon_type, cash_coupon_amount as paid_amount
    from lines
    where coalesce(cash_coupon_amount, 0) <> 0

    union all

    select customer_id, trade_id, trade_time, 'voucher' as coupon_type, voucher_amount as paid_amount
    from lines
    where coalesce(voucher_amount, 0) <> 0
),

uncovered as (
    select *
    from coupon_payments
    where not exists (
        select 1 from coupons
        where coupons.customer_id = coupon_payments.customer_id
          and coupons.coupon_type = coupon_payments.coupon_type
          and coalesce(coupons.valid_time <= coupon_payments.trade_time, true)
          and coalesce(coupon_payments.trade_time < coupons.expire_time, true)
    )
),

final as (
    select
        cast($bill_cycle as varchar) as bill_cycle,
        rules.check_area,
        rules.rule_id,
        rules.severity,
        uncovered.customer_id,
        uncovered.trade_id as reference,
        cast(0 as decimal(38, 8)) as expected,
        uncovered.paid_amount as actual,
        uncovered.paid_amount as difference_amount,
        rules.title || ' — line ' || uncovered.trade_id || ' of '
            || strftime(timezone('Asia/Shanghai', uncovered.trade_time), '%Y-%m-%d %H:%M:%S') || ' GMT+8 was paid '
            || cast(round(uncovered.paid_amount, 2) as varchar) || ' by ' || replace(uncovered.coupon_type, '_', ' ')
            || ', and no ' || replace(uncovered.coupon_type, '_', ' ') || ' of the customer was valid then. '
            || rules.action as message
    from uncovered
    cross join rules
    where rules.rule_id = 'COUPON.USED_AFTER_EXPIRY'
    order by uncovered.customer_id, uncovered.trade_id, uncovered.coupon_type
)

select * from final
