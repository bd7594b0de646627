-- materialized: view
-- core.rated_bill_line: every bill line of the cycle with the customer's agreed discount applied.
-- grain: one bill line. Source: staging.bill_line, core.customer_discount_rule.
-- The customer pays list price × (1 − agreed rate) on Expenditure and Refund lines; Adjustment lines
-- stay between HUAWEI CLOUD and the partner (docs/domain.md#bill-types), so they carry no customer charge.
-- `not materialized`: a query on one bill cycle must filter the staging scan, not a copy of all months
with lines as not materialized (
    select * from staging.bill_line
),

rules as (
    select * from core.customer_discount_rule
),

-- A view, not a table: the marts aggregate it and the reports stream it, so the lines are never
-- copied. Rules are looked up once per distinct (customer, service, resource type, local date), not
-- per line: a month has millions of lines but few such keys, and lines then join on equality.
line_keys as not materialized (
    select distinct
        bill_cycle,
        customer_id,
        service_type_code,
        coalesce(resource_type_code, '') as resource_key,
        trade_date_local
    from lines
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

matching_rules as (
    select bill_cycle, customer_id, service_type_code, resource_key, trade_date_local, discount_rate, rule_label
    from candidate_rules
    -- overlapping equal-specificity rules are a finding; meanwhile the later one is used
    qualify row_number() over (
        partition by bill_cycle, customer_id, service_type_code, resource_key, trade_date_local
        order by specificity desc, valid_from desc, rule_label
    ) = 1
),

final as (
    select
        lines.bill_cycle,
        lines.customer_id,
        lines.customer_name,
        lines.partner_id,
        lines.partner_name,
        lines.bill_type,
        lines.billing_mode,
        lines.service_type_code,
        lines.service_type_name,
        lines.resource_type_code,
        lines.resource_type_name,
        lines.product_name,
        lines.region_code,
        lines.resource_id,
        lines.resource_name,
        lines.trade_id,
        lines.original_order_id,
        lines.trade_time,
        strftime(timezone('Asia/Shanghai', lines.trade_time), '%Y-%m-%d %H:%M:%S') as trade_time_local,
        lines.trade_date_local,
        lines.usage_amount,
        lines.usage_unit,
        lines.official_amount,
        lines.discount_amount,
        coalesce(lines.truncated_amount, 0)::decimal(20, 8) as truncated_amount,
        lines.amount_due,
        coalesce(lines.cash_amount, 0)::decimal(20, 8) as cash_amount,
        coalesce(lines.credit_amount, 0)::decimal(20, 8) as credit_amount,
        coalesce(lines.cash_coupon_amount, 0)::decimal(20, 8) as cash_coupon_amount,
        coalesce(lines.voucher_amount, 0)::decimal(20, 8) as voucher_amount,
        coalesce(lines.stored_card_amount, 0)::decimal(20, 8) as stored_card_amount,
        coalesce(lines.debt_amount, 0)::decimal(20, 8) as debt_amount,
        (coalesce(lines.cash_coupon_amount, 0) + coalesce(lines.voucher_amount, 0)
            + coalesce(lines.stored_card_amount, 0))::decimal(38, 8) as coupon_paid_amount,
        coalesce(matching_rules.discount_rate, 0)::decimal(9, 6) as discount_rate,
        matching_rules.rule_label as agreement_rule,
        matching_rules.rule_label is not null as has_agreement,
        case
            when lines.bill_type in ('Expenditure', 'Refund')
                then (lines.official_amount * (1 - coalesce(matching_rules.discount_rate, 0)))::decimal(20, 8)
            else 0::decimal(20, 8)
        end as customer_charge_amount,
        lines.src_object,
        lines.src_member,
        lines.src_record
    from lines
    left join matching_rules
        on matching_rules.bill_cycle = lines.bill_cycle
        and matching_rules.customer_id = lines.customer_id
        and matching_rules.service_type_code = lines.service_type_code
        and matching_rules.resource_key = coalesce(lines.resource_type_code, '')
        and matching_rules.trade_date_local = lines.trade_date_local
)

select * from final
