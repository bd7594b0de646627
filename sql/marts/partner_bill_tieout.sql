-- materialized: partition
-- marts.partner_bill_tieout: does the bill file add up to HUAWEI CLOUD's monthly bill, to the cent.
-- grain: bill_cycle × component (consumption, refunds, adjustments, amount_due).
-- Source: staging.bill_line (the file side) and staging.api_partner_monthly_bill (the API side).
-- Each side is rounded once, half-up, to the cent before comparing; difference_amount = api − file.
-- Without a bill file for the cycle (the open month, a late file) the file side is missing: the row
-- shows `missing_in_file`, which is the state of the month, not a finding (bill_file_present = false).
with lines as not materialized (
    select bill_type, amount_due from staging.bill_line where bill_cycle = $bill_cycle
),

api_bills as (
    select * from staging.api_partner_monthly_bill where bill_cycle = $bill_cycle
),

bill_files as (
    select * from core.bill_file_cycle where bill_cycle = $bill_cycle
),

components as (
    select * from (values
        (1, 'consumption'), (2, 'refunds'), (3, 'adjustments'), (4, 'amount_due')
    ) as c (component_order, component)
),

file_totals as (
    select
        coalesce(sum(amount_due) filter (where bill_type = 'Expenditure'), 0) as consumption,
        coalesce(sum(amount_due) filter (where bill_type = 'Refund'), 0) as refunds,
        coalesce(sum(amount_due) filter (where bill_type = 'Adjustment'), 0) as adjustments,
        coalesce(sum(amount_due), 0) as amount_due
    from lines
    having exists (select 1 from bill_files)
),

file_side as (
    select component, cast(amount as decimal(38, 8)) as file_amount
    from file_totals
    unpivot (amount for component in (consumption, refunds, adjustments, amount_due))
),

api_side as (
    select component, cast(amount as decimal(38, 8)) as api_amount
    from (
        select
            consume_amount as consumption,
            refunds,
            adjustments,
            initial_amount_due as amount_due
        from api_bills
    )
    unpivot (amount for component in (consumption, refunds, adjustments, amount_due))
),

compared as (
    select
        components.component_order,
        components.component,
        file_side.file_amount,
        api_side.api_amount,
        case
            when file_side.file_amount is null then 'missing_in_file'
            when api_side.api_amount is null then 'missing_in_api'
            when round(file_side.file_amount, 2) = round(api_side.api_amount, 2) then 'matched'
            else 'mismatch'
        end as status
    from components
    left join file_side using (component)
    left join api_side using (component)
    where file_side.file_amount is not null or api_side.api_amount is not null
),

final as (
    select
        cast($bill_cycle as varchar) as bill_cycle,
        component,
        file_amount,
        api_amount,
        cast(coalesce(api_amount, 0) - coalesce(file_amount, 0) as decimal(38, 8)) as difference_amount,
        status,
        exists (select 1 from bill_files) as bill_file_present,
        component_order
    from compared
    order by component_order
)

select * from final
