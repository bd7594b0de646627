-- materialized: view
-- marts.customer_bill_line: the lines of each customer's bill at the partner's agreed price.
-- grain: one Expenditure or Refund bill line. Source: core.rated_bill_line (a view: lines are not copied).
with rated as (
    select * from core.rated_bill_line
),

final as (
    select
        bill_cycle,
        customer_id,
        customer_name,
        partner_id,
        trade_id,
        original_order_id,
        trade_time_local,
        bill_type,
        billing_mode,
        service_type_code,
        service_type_name,
        resource_type_name,
        product_name,
        region_code,
        resource_id,
        resource_name,
        usage_amount,
        usage_unit,
        official_amount,
        discount_rate,
        agreement_rule,
        customer_charge_amount,
        amount_due,
        src_member,
        src_record
    from rated
    where bill_type in ('Expenditure', 'Refund')
)

select * from final
