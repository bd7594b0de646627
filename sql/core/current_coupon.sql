-- materialized: view
-- core.current_coupon: the customers' coupons as the newest pull of the coupons API lists them, with
-- the coupon type named as the bill lines name what it pays (cash_coupon_amount, voucher_amount).
-- grain: coupon. Source: staging.api_coupon (newest snapshot date).
with coupons as (
    select * from staging.api_coupon
),

newest as (
    select max(snapshot_date) as snapshot_date from coupons
),

final as (
    select
        coupons.coupon_id,
        coupons.customer_id,
        coupons.indirect_partner_id,
        coupons.coupon_type as coupon_type_code,
        case coupons.coupon_type
            when 4 then 'cash_coupon'
            when 1 then 'voucher'
            when 2 then 'discount_coupon'
            when 3 then 'product_coupon'
            else 'type_' || coupons.coupon_type
        end as coupon_type,
        coupons.status as status_code,
        case coupons.status
            when 1 then 'inactive'
            when 2 then 'usable'
            when 3 then 'used'
            when 4 then 'expired'
            when 5 then 'reclaimed'
            else 'status_' || coupons.status
        end as status,
        coupons.face_value,
        coupons.balance,
        coupons.valid_time,
        coupons.expire_time,
        coupons.is_frozen,
        coupons.source_id,
        coupons.plan_name,
        coupons.snapshot_date
    from coupons
    join newest using (snapshot_date)
)

select * from final
