-- materialized: table
-- marts.budget_status: each customer's budget against its month-to-date spend at list price, as of the
-- newest usage export of the open month (core.open_month), with the alert thresholds crossed and a
-- forecast to the month's end.
-- grain: customer with a budget (as of the latest run). Sources: staging.api_budget (newest snapshot),
-- staging.usage_line (the open month's newest export), core.current_customer (name, frozen).
-- Every fraction is a ratio (1 = 100 %), named *_ratio: utilisation_ratio = spend ÷ budget;
-- threshold_crossed_ratio = the highest of 0.75 / 0.90 / 1.00 reached (0: none), compared exactly;
-- forecast = spend ÷ days covered × days in the month (the export made on day N covers days
-- 1 … N − 1). status: ok | alert_75 | alert_90 | over_budget.
-- No rows while there is no open month (no usage export of a month without a bill file).
with budgets as (
    select * from staging.api_budget
),

open_month as (
    select * from core.open_month
),

usage_lines as (
    select customer_id, official_amount from staging.usage_line
    where bill_cycle = (select bill_cycle from open_month)
),

customers as (
    select * from core.current_customer
),

newest_budgets as (
    select budgets.*
    from budgets
    where snapshot_date = (select max(snapshot_date) from budgets)
),

spend as (
    select customer_id, sum(official_amount) as mtd_spend_amount, count(*) as usage_line_count
    from usage_lines
    group by customer_id
),

measured as (
    select
        open_month.bill_cycle,
        newest_budgets.customer_id,
        customers.customer_name,
        newest_budgets.indirect_partner_id,
        newest_budgets.budget_type,
        newest_budgets.budget_amount,
        newest_budgets.used_amount as api_used_amount,
        cast(coalesce(spend.mtd_spend_amount, 0) as decimal(20, 8)) as mtd_spend_amount,
        coalesce(spend.usage_line_count, 0) as usage_line_count,
        customers.is_frozen,
        open_month.as_of_date,
        open_month.days_covered,
        open_month.days_in_month,
        newest_budgets.snapshot_date as budget_snapshot_date
    from newest_budgets
    cross join open_month
    left join spend using (customer_id)
    left join customers using (customer_id)
),

forecast as (
    select
        *,
        -- exact, in units of 1e-8, rounded half-up: decimal division would give a float
        case
            when days_covered > 0 then cast(
                cast((cast(mtd_spend_amount * 100000000 as hugeint) * days_in_month * 2 + days_covered)
                     // (2 * days_covered) as decimal(20, 0))
                * cast(0.00000001 as decimal(9, 8)) as decimal(20, 8))
        end as forecast_amount,
        cast(case
            when mtd_spend_amount >= budget_amount then 1
            when mtd_spend_amount >= budget_amount * 0.90 then 0.90
            when mtd_spend_amount >= budget_amount * 0.75 then 0.75
            else 0
        end as decimal(3, 2)) as threshold_crossed_ratio
    from measured
),

final as (
    select
        bill_cycle,
        customer_id,
        customer_name,
        indirect_partner_id,
        budget_type,
        budget_amount,
        api_used_amount,
        mtd_spend_amount,
        cast(round(mtd_spend_amount / nullif(budget_amount, 0), 6) as decimal(18, 6)) as utilisation_ratio,
        threshold_crossed_ratio,
        forecast_amount,
        cast(round(forecast_amount / nullif(budget_amount, 0), 6) as decimal(18, 6)) as forecast_utilisation_ratio,
        is_frozen,
        as_of_date,
        days_covered,
        days_in_month,
        usage_line_count,
        budget_snapshot_date,
        case threshold_crossed_ratio
            when 1 then 'over_budget'
            when 0.90 then 'alert_90'
            when 0.75 then 'alert_75'
            else 'ok'
        end as status
    from forecast
    order by customer_id
)

select * from final
