-- materialized: partition
-- marts.customer_bill_tieout: does each customer's total in the bill file match HUAWEI CLOUD's
-- customer monthly sums (all bill types), to the cent.
-- grain: bill_cycle × customer. Source: staging.bill_line, staging.api_customer_monthly_sum,
-- core.current_customer (names of customers the file does not have).
-- Each side is rounded once, half-up, to the cent before comparing; difference_amount = api − file
-- (−file when the API has no sum, api when the file has no line).
with lines as not materialized (
    select customer_id, customer_name, amount_due from staging.bill_line where bill_cycle = $bill_cycle
),

monthly_sums as (
    select customer_id, amount from staging.api_customer_monthly_sum where bill_cycle = $bill_cycle
),

customers as (
    select * from core.current_customer
),

bill_files as (
    select * from core.bill_file_cycle where bill_cycle = $bill_cycle
),

file_totals as (
    select
        customer_id,
        max(customer_name) as customer_name,
        count(*) as file_line_count,
        sum(amount_due) as file_amount
    from lines
    group by customer_id
),

api_totals as (
    select
        customer_id,
        count(*) as api_record_count,
        sum(amount) as api_amount
    from monthly_sums
    group by customer_id
),

compared as (
    select
        coalesce(file_totals.customer_id, api_totals.customer_id) as customer_id,
        file_totals.customer_name as file_customer_name,
        cast(file_totals.file_amount as decimal(38, 8)) as file_amount,
        cast(api_totals.api_amount as decimal(38, 8)) as api_amount,
        coalesce(file_totals.file_line_count, 0) as file_line_count,
        coalesce(api_totals.api_record_count, 0) as api_record_count
    from file_totals
    full outer join api_totals using (customer_id)
),

final as (
    select
        cast($bill_cycle as varchar) as bill_cycle,
        compared.customer_id,
        coalesce(compared.file_customer_name, customers.customer_name) as customer_name,
        compared.file_amount,
        compared.api_amount,
        cast(coalesce(compared.api_amount, 0) - coalesce(compared.file_amount, 0) as decimal(38, 8))
            as difference_amount,
        case
            when compared.file_amount is null then 'missing_in_file'
            when compared.api_amount is null then 'missing_in_api'
            when round(compared.file_amount, 2) = round(compared.api_amount, 2) then 'matched'
            else 'mismatch'
        end as status,
        compared.file_line_count,
        compared.api_record_count,
        exists (select 1 from bill_files) as bill_file_present
    from compared
    left join customers using (customer_id)
    order by compared.customer_id
)

select * from final
