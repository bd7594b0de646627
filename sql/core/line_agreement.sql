-- materialized: partition
-- core.line_agreement: the agreed discount in force for each (customer, service, resource type,
-- local date) the cycle's lines are rated at.
-- grain: one key of the cycle. Sources: staging.bill_line (the cycle's lines), core.customer_discount_rule,
-- core.refund_original_order (a refund is rated at its original order's date).
-- A month has millions of lines but few such keys, so rules are matched once per key here and
-- core.rated_bill_line joins its lines on equality to this table. A table, not a CTE of that view:
-- DuckDB's estimate of the rule matching (a cross join with the rules for every customer) was far
-- above the line count, so it built its hash table on the month's lines (ten million wide rows,
-- spilled to disk) instead of on the keys, and rating a 10 M month took minutes, not seconds.
with keyed_lines as (
    select bill_cycle, customer_id, service_type_code, resource_type_code, trade_date_local
    from staging.bill_line
    where bill_cycle = $bill_cycle
),

refund_originals as (
    select * from core.refund_original_order
    where bill_cycle = $bill_cycle
),

rules as (
    select * from core.customer_discount_rule
),

-- A refund's key is dated on its original order, whose agreement prices it.
line_keys as (
    select
        bill_cycle,
        customer_id,
        service_type_code,
        coalesce(resource_type_code, '') as resource_key,
        trade_date_local
    from keyed_lines

    union

    select bill_cycle, customer_id, service_type_code, resource_key, original_trade_date_local
    from refund_originals
    where original_trade_date_local is not null
),

candidate_rules as (
    select line_keys.*, rules.discount_rate, rules.rule_label, rules.specificity, rules.valid_from
    from line_keys
    join rules on rules.customer_id = line_keys.customer_id
    where (rules.service_type_code = line_keys.service_type_code or rules.service_type_code = '*')
      and (rules.resource_type_code = line_keys.resource_key or rules.resource_type_code = '*')
      and line_keys.trade_date_local between rules.valid_from and rules.valid_to

    union all

    select line_keys.*, rules.discount_rate, rules.rule_label, rules.specificity, rules.valid_from
    from line_keys
    join (select * from rules where customer_id = '*') as rules on true
    where (rules.service_type_code = line_keys.service_type_code or rules.service_type_code = '*')
      and (rules.resource_type_code = line_keys.resource_key or rules.resource_type_code = '*')
      and line_keys.trade_date_local between rules.valid_from and rules.valid_to
),

final as (
    select bill_cycle, customer_id, service_type_code, resource_key, trade_date_local, discount_rate, rule_label
    from candidate_rules
    -- overlapping equal-specificity rules are a finding; meanwhile the later one is used
    qualify row_number() over (
        partition by bill_cycle, customer_id, service_type_code, resource_key, trade_date_local
        order by specificity desc, valid_from desc, rule_label
    ) = 1
)

select * from final
