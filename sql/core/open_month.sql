-- materialized: view
-- core.open_month: the month being consumed: the newest month with a usage export staged and no bill
-- file yet, and how far its newest export reaches (the export made on day N covers days 1 … N − 1).
-- grain: one row, or none while no such month is staged. Source: staging.usage_line, core.bill_file_cycle.
with usage_exports as (
    select distinct bill_cycle, export_date from staging.usage_line
),

closed_cycles as (
    select bill_cycle from core.bill_file_cycle
),

open_months as (
    select bill_cycle, max(export_date) as as_of_date
    from usage_exports
    where bill_cycle not in (select bill_cycle from closed_cycles)
    group by bill_cycle
),

dated as (
    select
        bill_cycle,
        as_of_date,
        cast(bill_cycle || '-01' as date) as month_start,
        day(last_day(cast(bill_cycle || '-01' as date))) as days_in_month
    from open_months
),

final as (
    select
        bill_cycle,
        as_of_date,
        month_start,
        days_in_month,
        -- an export made early in the next month covers the whole month
        least(date_diff('day', month_start, as_of_date), days_in_month) as days_covered
    from dated
    order by bill_cycle desc
    limit 1
)

select * from final
