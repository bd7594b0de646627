-- materialized: table
-- marts.coupon_status: every coupon the customers hold: face value, balance, what it gave, what the
-- customer's lines paid by that coupon type in the newest closed cycle, and the days left to expiry.
-- grain: coupon (as of the latest run). Sources: core.current_coupon (newest snapshot),
-- core.customer_coupon_use, core.bill_file_cycle, core.open_month, core.current_customer.
-- Bill lines carry no coupon id: used_this_month_amount is the customer's Σ of the coupon type on the
-- lines of used_in_bill_cycle (the newest cycle with a bill file), the same on each of its coupons of
-- that type. days_to_expiry counts from as_of_date: the open month's newest usage export date (the
-- coupons' snapshot date while there is none), to the GMT+8 date the coupon expires; < 0 = expired.
with coupons as (
    select * from core.current_coupon
),

coupon_use as (
    select * from core.customer_coupon_use
),

open_month as (
    select * from core.open_month
),

customers as (
    select * from core.current_customer
),

bill_files as (
    select * from core.bill_file_cycle
),

newest_closed_cycle as (
    select max(bill_cycle) as bill_cycle from bill_files
),

use_this_month as (
    select customer_id, coupon_type, paid_amount
    from coupon_use
    where bill_cycle = (select bill_cycle from newest_closed_cycle)
),

final as (
    select
        coupons.coupon_id,
        coupons.customer_id,
        customers.customer_name,
        coupons.indirect_partner_id,
        coupons.coupon_type,
        coupons.coupon_type_code,
        coupons.status,
        coupons.status_code,
        coupons.face_value,
        coupons.balance,
        cast(coupons.face_value - coalesce(coupons.balance, 0) as decimal(38, 8)) as used_amount,
        case
            when coupons.coupon_type in ('cash_coupon', 'voucher')
                then cast(coalesce(use_this_month.paid_amount, 0) as decimal(38, 8))
        end as used_this_month_amount,
        (select bill_cycle from newest_closed_cycle) as used_in_bill_cycle,
        coupons.valid_time,
        coupons.expire_time,
        coalesce((select as_of_date from open_month), coupons.snapshot_date) as as_of_date,
        date_diff('day', coalesce((select as_of_date from open_month), coupons.snapshot_date),
                  cast(timezone('Asia/Shanghai', coupons.expire_time) as date)) as days_to_expiry,
        coupons.source_id,
        coupons.plan_name,
        coupons.snapshot_date
    from coupons
    left join use_this_month using (customer_id, coupon_type)
    left join customers using (customer_id)
    order by coupons.customer_id, coupons.coupon_type, coupons.coupon_id
)

select * from final
