-- materialized: table
-- marts.budget_status: each customer's budget against its spend at list price in a month with a usage
-- export, as of that month's newest export: the open month so far, and each closed month as its last
-- export left it (so a closed month's pack keeps what was true for that month).
-- grain: bill cycle × customer with a budget. Sources: core.usage_month, staging.usage_line (each month's
-- newest export), staging.api_budget (one reading per snapshot date), core.current_customer (name, frozen).
--
-- The month's budget reading is the newest snapshot taken by the month's as-of date, else the oldest one
-- after it (budget_snapshot_date tells; the BSS API keeps only the current budgets); a reading taken after
-- the month ended has a used_amount that counts a later month, so it is not shown as the month's.
--
-- Spend (mtd_spend_amount) = Σ official_amount of the month's usage lines, net of refunds: refund_amount
-- (Σ of the negative lines) and one_off_amount (subscriptions bought in the month: billing modes 0 yearly/
-- monthly, 2 RI, 4 savings plan) happen once; accruing_amount (pay-per-use and hourly lines) accrues
-- by the day. A MONTHLY budget counts the month's spend; a PACKAGE (one-time) budget counts every month
-- since it was set, which only the API's used_amount knows: budget_used_amount is that (null when the
-- month's reading is not from the month).
-- Every fraction is a ratio (1 = 100 %), named *_ratio: utilisation_ratio = budget_used ÷ budget;
-- threshold_crossed_ratio = the highest of 0.75 / 0.90 / 1.00 reached (0: none), compared exactly;
-- forecast = budget_used + accruing ÷ days covered × the days left (the export made on day N covers days
-- 1 … N − 1; refunds and purchases are not extrapolated). status: over_budget | alert_90 | alert_75 |
-- forecast_over (below 0.75 but forecast above the budget) | ok | not_measured; alert_level red (1.00
-- reached) | amber (0.75/0.90 reached or forecast above the budget) | green. `note` explains a negative
-- spend (refunds above the month's usage) and a one-time budget whose use in the month is not known.
with budgets as (
    select * from staging.api_budget
),

usage_months as (
    select * from core.usage_month
),

usage_lines as (
    select bill_cycle, export_date, customer_id, billing_mode, official_amount from staging.usage_line
),

customers as (
    select * from core.current_customer
),

budget_readings as (
    select usage_months.bill_cycle, readings.snapshot_date
    from usage_months
    cross join (select distinct snapshot_date from budgets) as readings
    qualify row_number() over (
        partition by usage_months.bill_cycle
        order by readings.snapshot_date > usage_months.as_of_date,
                 abs(date_diff('day', usage_months.as_of_date, readings.snapshot_date))) = 1
),

spend as (
    select
        usage_lines.bill_cycle,
        usage_lines.customer_id,
        sum(official_amount) as mtd_spend_amount,
        coalesce(sum(official_amount) filter (where official_amount < 0), 0) as refund_amount,
        coalesce(sum(official_amount) filter (where official_amount >= 0 and billing_mode in (0, 2, 4)), 0)
            as one_off_amount,
        coalesce(sum(official_amount) filter (where official_amount >= 0 and billing_mode not in (0, 2, 4)), 0)
            as accruing_amount,
        count(*) as usage_line_count
    from usage_lines
    join usage_months on usage_months.bill_cycle = usage_lines.bill_cycle
                     and usage_months.as_of_date = usage_lines.export_date
    group by all
),

measured as (
    select
        usage_months.bill_cycle,
        budgets.customer_id,
        customers.customer_name,
        budgets.indirect_partner_id,
        budgets.budget_type,
        budgets.budget_amount,
        budgets.snapshot_date <= last_day(usage_months.month_start) as reading_in_month,
        case when budgets.snapshot_date <= last_day(usage_months.month_start) then budgets.used_amount end
            as api_used_amount,
        cast(coalesce(spend.mtd_spend_amount, 0) as decimal(38, 8)) as mtd_spend_amount,
        cast(coalesce(spend.refund_amount, 0) as decimal(38, 8)) as refund_amount,
        cast(coalesce(spend.one_off_amount, 0) as decimal(38, 8)) as one_off_amount,
        cast(coalesce(spend.accruing_amount, 0) as decimal(38, 8)) as accruing_amount,
        coalesce(spend.usage_line_count, 0) as usage_line_count,
        customers.is_frozen,
        usage_months.is_closed,
        usage_months.as_of_date,
        usage_months.days_covered,
        usage_months.days_in_month,
        budgets.snapshot_date as budget_snapshot_date
    from usage_months
    join budget_readings using (bill_cycle)
    join budgets on budgets.snapshot_date = budget_readings.snapshot_date
    left join spend on spend.bill_cycle = usage_months.bill_cycle and spend.customer_id = budgets.customer_id
    left join customers on customers.customer_id = budgets.customer_id
),

used as (
    select
        *,
        case when budget_type = 'PACKAGE' then api_used_amount else mtd_spend_amount end as budget_used_amount
    from measured
),

forecast as (
    select
        *,
        -- the accruing spend of the days left, exact in units of 1e-8 rounded half-up (decimal division
        -- would give a float); accruing_amount is never negative
        case
            when days_covered > 0 and budget_used_amount is not null then cast(
                budget_used_amount
                + cast((cast(accruing_amount * 100000000 as hugeint) * (days_in_month - days_covered) * 2
                        + days_covered) // (2 * days_covered) as decimal(38, 0))
                  * cast(0.00000001 as decimal(9, 8)) as decimal(38, 8))
        end as forecast_amount,
        cast(case
            when budget_used_amount >= budget_amount then 1
            when budget_used_amount >= budget_amount * 0.90 then 0.90
            when budget_used_amount >= budget_amount * 0.75 then 0.75
            else 0
        end as decimal(3, 2)) as threshold_crossed_ratio
    from used
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
        refund_amount,
        one_off_amount,
        accruing_amount,
        cast(budget_used_amount as decimal(38, 8)) as budget_used_amount,
        cast(round(budget_used_amount / nullif(budget_amount, 0), 6) as decimal(38, 6)) as utilisation_ratio,
        threshold_crossed_ratio,
        forecast_amount,
        cast(round(forecast_amount / nullif(budget_amount, 0), 6) as decimal(38, 6)) as forecast_utilisation_ratio,
        is_frozen,
        is_closed,
        as_of_date,
        days_covered,
        days_in_month,
        usage_line_count,
        budget_snapshot_date,
        case
            when budget_used_amount is null then 'not_measured'
            when threshold_crossed_ratio = 1 then 'over_budget'
            when threshold_crossed_ratio = 0.90 then 'alert_90'
            when threshold_crossed_ratio = 0.75 then 'alert_75'
            when forecast_amount > budget_amount then 'forecast_over'
            else 'ok'
        end as status,
        case
            when threshold_crossed_ratio = 1 then 'red'
            when threshold_crossed_ratio > 0 or forecast_amount > budget_amount then 'amber'
            when budget_used_amount is null then null
            else 'green'
        end as alert_level,
        nullif(concat_ws('; ',
            case when mtd_spend_amount < 0 then
                'refunds of USD ' || format('{:,.2f}', round(-refund_amount, 2))
                || ' exceed the month''s usage of USD '
                || format('{:,.2f}', round(mtd_spend_amount - refund_amount, 2))
            end,
            case when budget_type = 'PACKAGE' and budget_used_amount is null then
                'a one-time budget: its use up to ' || bill_cycle || ' is not known'
            end,
            -- utilisation of a one-time budget is not this month's spend: say what it is
            case when budget_type = 'PACKAGE' and budget_used_amount is not null then
                'a one-time budget: USD ' || format('{:,.2f}', round(budget_used_amount, 2))
                || ' used since it was set (BSS API), this month included'
            end), '') as note
    from forecast
    order by bill_cycle, customer_id
)

select * from final
