-- materialized: view
-- marts.daily_spend: what each customer spent on each service per GMT+8 day at list price, from the
-- bill file where the month has one (Expenditure lines) and from the month's newest usage export
-- (month to date, indicative until the bill file closes the month); the daily flash reads it.
-- grain: bill_cycle × source ('bill_file' | 'usage_export') × customer × service type × trade date.
-- Sources: staging.bill_line, staging.usage_line (the newest export of each month).
with bill_lines as not materialized (
    select * from staging.bill_line where bill_type = 'Expenditure'
),

usage_lines as not materialized (
    select * from staging.usage_line
),

newest_exports as (
    select bill_cycle, max(export_date) as export_date from usage_lines group by bill_cycle
),

bill_file_spend as (
    select
        bill_cycle,
        'bill_file' as source,
        cast(null as date) as export_date,
        customer_id,
        service_type_code,
        trade_date_local,
        cast(sum(official_amount) as decimal(38, 8)) as official_amount,
        cast(sum(amount_due) as decimal(38, 8)) as amount_due,
        count(*) as line_count
    from bill_lines
    group by all
),

usage_export_spend as (
    select
        usage_lines.bill_cycle,
        'usage_export' as source,
        usage_lines.export_date,
        usage_lines.customer_id,
        usage_lines.service_type_code,
        usage_lines.trade_date_local,
        cast(sum(usage_lines.official_amount) as decimal(38, 8)) as official_amount,
        cast(sum(usage_lines.amount_due) as decimal(38, 8)) as amount_due,
        count(*) as line_count
    from usage_lines
    join newest_exports using (bill_cycle, export_date)
    group by all
),

final as (
    select * from bill_file_spend
    union all
    select * from usage_export_spend
)

select * from final
