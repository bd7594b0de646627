-- materialized: table
-- core.customer_discount_rule: the partner's agreed customer discounts with their specificity.
-- grain: one agreement rule. Source: staging.customer_discount (agreements/customer_discounts.csv).
-- Most specific rule wins (docs/formats.md#customer-discounts): customer+resource > customer+service
-- > customer > *+resource > *+service > *.
with discounts as (
    select * from staging.customer_discount
),

final as (
    select
        customer_id,
        service_type_code,
        resource_type_code,
        discount_rate,
        valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to,
        case
            when customer_id <> '*' and resource_type_code <> '*' then 50
            when customer_id <> '*' and service_type_code <> '*' then 40
            when customer_id <> '*' then 30
            when resource_type_code <> '*' then 25
            when service_type_code <> '*' then 20
            else 10
        end as specificity,
        concat_ws(' / ', customer_id, service_type_code, resource_type_code)
            || ' from ' || strftime(valid_from, '%Y-%m-%d')
            || coalesce(' to ' || strftime(valid_to, '%Y-%m-%d'), '')
            || ': ' || cast(discount_rate as varchar) as rule_label,
        src_object,
        src_record
    from discounts
)

select * from final
