-- materialized: view
-- core.open_month: the month being consumed: the newest month with a usage export staged and no bill
-- file yet, and how far its newest export reaches. grain: one row, or none while no such month is
-- staged. Source: core.usage_month.
with usage_months as (
    select * from core.usage_month
),

final as (
    select bill_cycle, as_of_date, month_start, days_in_month, days_covered
    from usage_months
    where not is_closed
    order by bill_cycle desc
    limit 1
)

select * from final
