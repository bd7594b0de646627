-- materialized: table
-- marts.incentive_reconciliation: the incentive HUAWEI CLOUD's statement pays vs the incentive the
-- partner computes from its bill lines, with when it should be reconciled and paid and why it is frozen.
-- grain: period × incentive type × service type (every period with bill lines or a statement).
-- Sources: core.customer_service_performance, core.current_customer (resale customers),
-- staging.api_incentive_policy (the service's policy in the period), staging.incentive_rate,
-- staging.incentive_statement (partner-level lines), staging.api_partner_monthly_bill,
-- staging.api_partner_credit.
--
-- Eligible performance: Σ over resale customers' Expenditure and Refund lines of the service of
-- (amount due − coupons − stored-value card), for services whose policy is 0, 1 or 13. Only those
-- have an expected line: rate of the `Monthly rebate` for the policy valid on the period's first day
-- (0 when none is agreed; policy 13's rate is 0, so its expected 0.00 matches a 0.00 line), expected
-- incentive = performance × rate rounded half-up to the cent. Services of other policies show 0 with
-- status `not_eligible`. Only the `Monthly rebate` is reconciled monthly; other incentive types on the
-- statement show as `not_reconciled`.
--
-- comparison_status: matched | mismatch | missing_in_statement | extra_in_statement | not_eligible |
-- not_reconciled | policy_unknown | awaiting_statement (no statement delivered for the period yet: finance
-- exports it after the month close). status is the same, except that a compared row of a frozen period
-- says `frozen` (its findings are still raised). HUAWEI CLOUD holds a cycle's incentives until the
-- cycle's partner bill is paid (docs/domain.md#incentives). A period is frozen when its statement
-- says Frozen, or when none of its
-- statement lines says Paid and the newest partner credit reading, taken on or after the day the
-- period's bill was issued (the 5th of the next month, or the day its bill file landed if earlier),
-- still shows an amount due. Only the period's own
-- evidence counts, so closing a later month does not change an earlier one. The reason quotes the
-- period's own bill (the API's initial_amount_due) and the reading with its date.
--
-- Without the policies of a period (the BSS API not configured), which services earn and at which
-- rate is unknown: the rows show the performance the services would count and the statement
-- beside it, with status `policy_unknown` and nothing expected, and raise no finding.
--
-- Dates: reconciliation starts by the 5th working day (Monday–Friday; public holidays are not
-- known) of the next month; payment 30 calendar days after the invoice, which is due 5 working
-- days after reconciliation.
with performance as (
    select * from core.customer_service_performance
),

customers as (
    select * from core.current_customer
),

policies as (
    select * from staging.api_incentive_policy
),

rates as (
    select * from staging.incentive_rate where incentive_type = 'Monthly rebate'
),

statement_lines as (
    select * from staging.incentive_statement where customer_id is null
),

partner_bills as (
    select * from staging.api_partner_monthly_bill
),

credit_readings as (
    select * from staging.api_partner_credit
),

loads as (
    select * from audit.loads
),

all_statement_lines as (
    select * from staging.incentive_statement
),

statement_deliveries as (
    select distinct bill_cycle as period from audit.loads where source = 'incentives' and status <> 'rejected'
),

-- the day (GMT+8, as the snapshot dates) each period's bill file first landed: its bill was issued by then
bill_file_days as (
    select
        bill_cycle as period,
        date '1970-01-01' + cast(floor((epoch(min(loaded_at)) + 8 * 3600) / 86400) as integer) as landed_on
    from loads
    where source = 'customerBill' and status <> 'rejected'
    group by bill_cycle
),

-- every customer of the bill file is a resale one until the customers API has been pulled
resale_performance as (
    select
        bill_cycle as period,
        service_type_code,
        sum(performance_amount) as performance_amount,
        sum(line_count) as line_count
    from performance
    where not exists (select 1 from customers)
       or customer_id in (select customer_id from customers where is_resale)
    group by all
),

period_policies as (
    select bill_cycle as period, service_type_code, service_type_name, incentive_policy, allow_discount
    from policies
),

periods_with_policies as (
    select distinct period from period_policies
),

policy_rates as (
    select periods.period, rates.policy_code, rates.rate
    from (select distinct period from resale_performance) as periods
    join rates
      on cast(periods.period || '-01' as date) >= rates.valid_from
     and cast(periods.period || '-01' as date) <= coalesce(rates.valid_to, date '9999-12-31')
    qualify row_number() over (partition by periods.period, rates.policy_code
                               order by rates.valid_from desc, rates.rate) = 1
),

computed as (
    select
        resale_performance.period,
        'Monthly rebate' as incentive_type,
        resale_performance.service_type_code,
        period_policies.service_type_name,
        period_policies.incentive_policy,
        case
            when resale_performance.period not in (select period from periods_with_policies) then 'policy_unknown'
            when period_policies.incentive_policy in (0, 1, 13) then 'expected'
            else 'not_eligible'
        end as line_kind,
        resale_performance.performance_amount,
        resale_performance.line_count,
        coalesce(policy_rates.rate, 0) as agreed_rate
    from resale_performance
    left join period_policies using (period, service_type_code)
    left join policy_rates
      on policy_rates.period = resale_performance.period
     and policy_rates.policy_code = period_policies.incentive_policy
),

computed_lines as (
    select
        period,
        incentive_type,
        service_type_code,
        service_type_name,
        incentive_policy,
        line_kind,
        line_count,
        case line_kind
            when 'expected' then performance_amount
            when 'not_eligible' then 0
            else performance_amount   -- policy unknown: what the service would count if it earns
        end as eligible_performance_amount,
        case line_kind when 'policy_unknown' then null else agreed_rate end as rate,
        case line_kind
            when 'expected' then round(performance_amount * agreed_rate, 2)
            when 'not_eligible' then 0
        end as expected_incentive_amount
    from computed
),

statement as (
    select
        period,
        incentive_type,
        service_type_code,
        count(*) as statement_line_count,
        sum(performance_amount) as statement_performance_amount,
        max(incentive_rate) as statement_rate,
        sum(incentive_amount) as statement_incentive_amount,
        string_agg(distinct status, ', ' order by status) as statement_status
    from statement_lines
    group by all
),

compared as (
    select
        coalesce(computed_lines.period, statement.period) as period,
        coalesce(computed_lines.incentive_type, statement.incentive_type) as incentive_type,
        coalesce(computed_lines.service_type_code, statement.service_type_code) as service_type_code,
        computed_lines.service_type_name,
        computed_lines.incentive_policy,
        computed_lines.line_count,
        computed_lines.eligible_performance_amount,
        computed_lines.rate,
        computed_lines.expected_incentive_amount,
        statement.statement_performance_amount,
        statement.statement_rate,
        statement.statement_incentive_amount,
        statement.statement_status,
        case
            when coalesce(computed_lines.period, statement.period) not in (select period from periods_with_policies)
                then 'policy_unknown'
            when coalesce(computed_lines.incentive_type, statement.incentive_type) <> 'Monthly rebate'
                then 'not_reconciled'
            when computed_lines.line_kind = 'expected'
                 and computed_lines.period not in (select period from statement_deliveries)
                then 'awaiting_statement'
            when computed_lines.line_kind = 'expected' and statement.period is null then 'missing_in_statement'
            when computed_lines.line_kind = 'expected'
                 and round(statement.statement_incentive_amount, 2) = computed_lines.expected_incentive_amount
                then 'matched'
            when computed_lines.line_kind = 'expected' then 'mismatch'
            when statement.period is not null then 'extra_in_statement'
            else 'not_eligible'
        end as comparison_status
    from computed_lines
    full outer join statement using (period, incentive_type, service_type_code)
),

newest_credit as (
    select snapshot_date, due_amount from credit_readings order by snapshot_date desc, fetched_at desc limit 1
),

period_statements as (
    select
        period,
        string_agg(distinct status, ', ' order by status) as statuses,
        bool_or(status = 'Frozen') as says_frozen,
        bool_or(status = 'Paid') as says_paid
    from all_statement_lines
    group by period
),

period_bills as (
    select bill_cycle as period, initial_amount_due from partner_bills
    qualify row_number() over (partition by bill_cycle order by fetched_at desc) = 1
),

period_freezes as (
    select
        periods.period,
        case
            when period_statements.says_frozen then 'the statement says Frozen'
            when not coalesce(period_statements.says_paid, false)
                 and newest_credit.due_amount > 0
                 and newest_credit.snapshot_date >= least(cast(periods.period || '-05' as date) + interval 1 month,
                                                          coalesce(bill_file_days.landed_on, date '9999-12-31'))
                then 'the partner bill of ' || periods.period
                     || coalesce(' (amount due USD ' || format('{:,.2f}', round(period_bills.initial_amount_due, 2))
                                 || ')', '')
                     || ' was not paid on ' || strftime(newest_credit.snapshot_date, '%Y-%m-%d')
                     || ': the partner credit showed USD ' || format('{:,.2f}', round(newest_credit.due_amount, 2))
                     || ' due that day, and '
                     || coalesce('the statement says ' || period_statements.statuses,
                                 'no statement has been delivered')
        end as frozen_reason
    from (select distinct period from compared) as periods
    left join period_statements using (period)
    left join period_bills using (period)
    left join bill_file_days using (period)
    left join newest_credit on true
),

calendar as (
    select
        periods.period,
        cast(unnest(generate_series(
            cast(periods.period || '-01' as date) + interval 1 month,
            cast(periods.period || '-01' as date) + interval 1 month + interval 20 day,
            interval 1 day)) as date) as day
    from (select distinct period from compared) as periods
),

working_days as (
    select period, day, row_number() over (partition by period order by day) as working_day
    from calendar
    where isodow(day) <= 5
),

period_dates as (
    select
        period,
        max(day) filter (where working_day = 5) as expected_reconciliation_date,
        -- invoice within 5 working days of reconciliation, payment 30 calendar days after
        cast(max(day) filter (where working_day = 10) + interval 30 day as date) as expected_payment_date
    from working_days
    group by period
),

final as (
    select
        compared.period,
        compared.incentive_type,
        compared.service_type_code,
        compared.service_type_name,
        compared.incentive_policy,
        cast(compared.line_count as bigint) as line_count,
        cast(compared.eligible_performance_amount as decimal(38, 8)) as eligible_performance_amount,
        cast(compared.rate as decimal(9, 6)) as rate,
        cast(compared.expected_incentive_amount as decimal(38, 8)) as expected_incentive_amount,
        cast(compared.statement_performance_amount as decimal(38, 8)) as statement_performance_amount,
        cast(compared.statement_rate as decimal(9, 6)) as statement_rate,
        cast(compared.statement_incentive_amount as decimal(38, 8)) as statement_incentive_amount,
        case
            when compared.comparison_status in
                 ('matched', 'mismatch', 'missing_in_statement', 'extra_in_statement', 'not_eligible')
                then cast(coalesce(compared.statement_incentive_amount, 0)
                          - coalesce(compared.expected_incentive_amount, 0) as decimal(38, 8))
        end as difference_amount,
        compared.statement_status,
        compared.comparison_status,
        case
            when period_freezes.frozen_reason is not null
                 and compared.comparison_status in ('matched', 'mismatch', 'missing_in_statement', 'extra_in_statement')
                then 'frozen'
            else compared.comparison_status
        end as status,
        period_freezes.frozen_reason,
        period_dates.expected_reconciliation_date,
        period_dates.expected_payment_date
    from compared
    left join period_freezes using (period)
    left join period_dates using (period)
    order by compared.period, compared.incentive_type, compared.service_type_code
)

select * from final
