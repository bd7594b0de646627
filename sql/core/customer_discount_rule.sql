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
        -- for people (the bills' "Agreement applied"): 'customer c1, all services: 12.5 % off, from 2026-01-01'
        case when customer_id = '*' then 'every customer' else 'customer ' || customer_id end
            || ', '
            || case
                   when service_type_code = '*' and resource_type_code = '*' then 'all services'
                   else concat_ws(', ',
                                  case when service_type_code <> '*' then 'service ' || service_type_code end,
                                  case when resource_type_code <> '*' then 'resource type ' || resource_type_code end)
               end
            || ': ' || rtrim(rtrim(cast(cast(discount_rate * 100 as decimal(12, 4)) as varchar), '0'), '.')
            || ' % off, from ' || strftime(valid_from, '%Y-%m-%d')
            || coalesce(' to ' || strftime(valid_to, '%Y-%m-%d'), '') as rule_label,
        src_object,
        src_record
    from discounts
)

select * from final
