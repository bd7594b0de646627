-- materialized: table
-- core.coupon_balance_finding: customers whose bill lines were paid by more coupon money of a type
-- than all their coupons of that type ever gave (Σ face value − balance, expired coupons included).
-- grain: customer × coupon type (bill_cycle null: it spans every loaded cycle).
-- Source: core.customer_coupon_use (all cycles), core.current_coupon (newest snapshot).
-- A coupon whose balance the API does not give counts as fully used: no finding is made up from it.
with coupon_use as (
    select * from core.customer_coupon_use
),

coupons as (
    select * from core.current_coupon where coupon_type in ('cash_coupon', 'voucher')
),

rules as (
    select rule_id, area as check_area, severity, title, action from audit.rules
),

paid as (
    select customer_id, coupon_type, sum(paid_amount) as paid_amount, sum(line_count) as line_count
    from coupon_use
    group by all
),

given as (
    select customer_id, coupon_type, sum(face_value - coalesce(balance, 0)) as used_amount, count(*) as coupon_count
    from coupons
    group by all
),

beyond as (
    select
        paid.customer_id,
        paid.coupon_type,
        paid.paid_amount,
        paid.line_count,
        coalesce(given.used_amount, 0) as used_amount,
        coalesce(given.coupon_count, 0) as coupon_count
    from paid
    left join given using (customer_id, coupon_type)
    where paid.paid_amount > coalesce(given.used_amount, 0)
),

final as (
    select
        cast(null as varchar) as bill_cycle,
        rules.check_area,
        rules.rule_id,
        rules.severity,
        beyond.customer_id,
        beyond.coupon_type as reference,
        cast(beyond.used_amount as decimal(38, 8)) as expected,
        cast(beyond.paid_amount as decimal(38, 8)) as actual,
        cast(beyond.paid_amount - beyond.used_amount as decimal(38, 8)) as difference_amount,
        rules.title || ' — ' || beyond.line_count || ' bill line(s) were paid '
            || cast(round(beyond.paid_amount, 2) as varchar) || ' by ' || replace(beyond.coupon_type, '_', ' ')
            || ', the customer''s ' || beyond.coupon_count || ' coupon(s) of that type gave '
            || cast(round(beyond.used_amount, 2) as varchar) || ' (excess '
            || cast(round(beyond.paid_amount - beyond.used_amount, 2) as varchar) || '). ' || rules.action as message
    from beyond
    cross join rules
    where rules.rule_id = 'COUPON.USED_BEYOND_BALANCE'
    order by beyond.customer_id, beyond.coupon_type
)

select * from final
