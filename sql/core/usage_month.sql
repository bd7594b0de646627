-- materialized: view
-- core.usage_month: every month with a usage export staged, and how far its newest export reaches (the
-- export made on day N covers days 1 … N − 1; one made early in the next month covers the whole month).
-- grain: bill cycle. Sources: staging.usage_line, core.bill_file_cycle (is_closed: its bill file landed).
with usage_exports as (
    select distinct bill_cycle, export_date from staging.usage_line
),

closed_cycles as (
    select bill_cycle from core.bill_file_cycle
),

dated as (
    select
        bill_cycle,
        max(export_date) as as_of_date,
        cast(bill_cycle || '-01' as date) as month_start
    from usage_exports
    group by bill_cycle
),

final as (
    select
        bill_cycle,
        as_of_date,
        month_start,
        day(last_day(month_start)) as days_in_month,
        least(date_diff('day', month_start, as_of_date), day(last_day(month_start))) as days_covered,
        bill_cycle in (select bill_cycle from closed_cycles) as is_closed
    from dated
    order by bill_cycle
)

select * from final
