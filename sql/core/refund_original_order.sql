-- materialized: partition
-- core.refund_original_order: the original order of each Refund line of the cycle, which prices the
-- refund for the customer (docs/reconciliation.md, "Refunds").
-- grain: one Refund line of the cycle. Sources: staging.bill_line (the cycle's Refund lines; the
-- original order's Expenditure lines in this or any earlier cycle), staging.api_order (orders pulled
-- for this or an earlier cycle), staging.api_business_discount (the partner's commercial discount of
-- the service, for a refund whose original order is known to neither).
-- Built once per cycle, for the few refund lines only: core.rated_bill_line joins this small table
-- instead of making every line look for an order.
with refunds as (
    select
        bill_cycle,
        src_object,
        src_member,
        src_record,
        customer_id,
        service_type_code,
        coalesce(resource_type_code, '') as resource_key,
        original_order_id,
        trade_time
    from staging.bill_line
    where bill_cycle = $bill_cycle and bill_type = 'Refund'
),

-- an order's Expenditure lines carry its number as trade_id (yearly/monthly and RI lines)
order_lines as (
    select * from staging.bill_line
    where bill_cycle <= $bill_cycle and bill_type = 'Expenditure'
),

api_orders as (
    select * from staging.api_order where bill_cycle <= $bill_cycle
),

commercial_items as (
    select * from staging.api_business_discount
    where quoting_item_type = 'CATEGORY_ITEM' and discount_ratio is not null
),

-- an order billed in several lines (one per resource) is refunded as a whole: its totals
orders_in_bills as (
    select
        customer_id,
        trade_id as order_id,
        min(bill_cycle) as bill_cycle,
        min(trade_date_local) as trade_date_local,
        sum(official_amount) as official_amount,
        sum(amount_due) as amount_due
    from order_lines
    where trade_id in (select original_order_id from refunds)
    group by customer_id, trade_id
),

-- the newest pull of the order; amount_after_discount is its amount due (coupons are a way of
-- paying, not a discount); unsubscribe orders (type 4) are refunds, not originals
orders_in_api as (
    select
        customer_id,
        order_id,
        bill_cycle,
        cast(timezone('Asia/Shanghai', payment_time) as date) as trade_date_local,
        official_amount,
        amount_after_discount as amount_due
    from api_orders
    where order_type is distinct from 4 and order_id in (select original_order_id from refunds)
    qualify row_number() over (partition by customer_id, order_id order by fetched_at desc, bill_cycle desc) = 1
),

-- for a refund of an unknown order: the service's commercial discount in force at the refund, when
-- every quoting item of the service agrees on it
partner_rates as (
    select
        refunds.src_object,
        refunds.src_member,
        refunds.src_record,
        1 - min(items.discount_ratio) as rate
    from refunds
    join commercial_items as items on items.service_type_code = refunds.service_type_code
    where coalesce(items.effective_time <= refunds.trade_time, true)
      and coalesce(refunds.trade_time < items.expire_time, true)
    group by refunds.src_object, refunds.src_member, refunds.src_record
    having min(items.discount_ratio) = max(items.discount_ratio)
),

final as (
    select
        refunds.bill_cycle,
        refunds.src_object,
        refunds.src_member,
        refunds.src_record,
        refunds.customer_id,
        refunds.service_type_code,
        refunds.resource_key,
        refunds.original_order_id,
        case
            when in_bills.order_id is not null then 'bill_file'
            when in_api.order_id is not null then 'api_order'
            else 'unknown'
        end as original_found_in,
        coalesce(in_bills.bill_cycle, in_api.bill_cycle) as original_bill_cycle,
        coalesce(in_bills.trade_date_local, in_api.trade_date_local) as original_trade_date_local,
        -- an order's totals are sums of its lines: 38 digits, as every sum of money
        coalesce(in_bills.official_amount, in_api.official_amount)::decimal(38, 8) as original_official_amount,
        coalesce(in_bills.amount_due, in_api.amount_due)::decimal(38, 8) as original_amount_due,
        -- gross-up rate: only for an unknown original; 0 when the API has given no single rate
        case
            when in_bills.order_id is null and in_api.order_id is null then coalesce(partner_rates.rate, 0)
        end::decimal(20, 8) as partner_discount_rate,
        partner_rates.rate is not null as partner_discount_known
    from refunds
    left join orders_in_bills as in_bills
        on in_bills.customer_id = refunds.customer_id and in_bills.order_id = refunds.original_order_id
    left join orders_in_api as in_api
        on in_api.customer_id = refunds.customer_id and in_api.order_id = refunds.original_order_id
    left join partner_rates
        on partner_rates.src_object = refunds.src_object
        and partner_rates.src_member = refunds.src_member
        and partner_rates.src_record = refunds.src_record
)

select * from final
