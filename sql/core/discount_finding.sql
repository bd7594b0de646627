-- materialized: partition
-- core.discount_finding: the discount audit of one bill cycle (docs/reconciliation.md), one row per finding.
-- grain: one finding: rule × bill line (reference trade_id), × order (order_id), × customer and service
-- (service_type_code) or × customer and agreement key ('service / resource').
-- Sources: staging.bill_line; audit.findings (the bill file's line identities, found by staging);
-- staging.customer_discount (ended agreement keys);
-- staging.api_order_discount and api_order (607/609 on orders); staging.api_incentive_policy
-- (allow_discount); staging.api_business_discount (commercial discount rates); core.current_customer;
-- core.refund_original_order (refunds whose original order is unknown).
-- Rules fed by the BSS API find nothing for a cycle whose API data was never pulled.
-- Sign: difference_amount = actual − expected.
with lines as not materialized (
    select * from staging.bill_line where bill_cycle = $bill_cycle
),

staged_findings as (
    select * from audit.findings
    where source = 'customerBill' and bill_cycle = $bill_cycle
      and rule_id in ('BILL.AMOUNT_DUE_IDENTITY', 'BILL.PAYMENT_IDENTITY')
),

agreements as (
    select * from staging.customer_discount
),

orders as (
    select * from staging.api_order where bill_cycle = $bill_cycle
),

order_discounts as (
    select * from staging.api_order_discount where bill_cycle = $bill_cycle
),

policies as (
    select * from staging.api_incentive_policy where bill_cycle = $bill_cycle
),

commercial_items as (
    select * from staging.api_business_discount where discount_ratio is not null
),

customers as (
    select * from core.current_customer
),

rules as (
    select rule_id, area as check_area, severity, title, action from audit.rules
),

refund_originals as (
    select * from core.refund_original_order where bill_cycle = $bill_cycle
),

-- BILL.* identities: staging found them on the loaded lines; the discount audit shows them too
line_identities as (
    select
        rule_id,
        customer_id,
        reference,
        expected,
        actual,
        difference_amount,
        case rule_id
            when 'BILL.AMOUNT_DUE_IDENTITY' then
                'line ' || reference || ': amount due ' || cast(round(actual, 2) as varchar)
                || ', list price − discount − truncated = ' || cast(round(expected, 2) as varchar)
            else
                'line ' || reference || ': amount due ' || cast(round(actual, 2) as varchar)
                || ', payment components add up to ' || cast(round(expected, 2) as varchar)
        end || ' (difference ' || cast(round(difference_amount, 2) as varchar) || ')' as detail
    from staged_findings
),

-- a cheap text test first: splitting the codes of every line of a large month costs more
line_discount_codes as (
    select
        *,
        list_transform(string_split(discount_types, ';'), lambda code: trim(code)) as discount_codes
    from lines
    where discount_types like '%607%' or discount_types like '%609%'
),

partner_discount_lines as (
    select
        'DISCOUNT.PARTNER_DISCOUNT_ON_RESALE' as rule_id,
        customer_id,
        trade_id as reference,
        cast(0 as decimal(38, 8)) as expected,
        discount_amount as actual,
        discount_amount as difference_amount,
        'line ' || trade_id || ' carries discount types ' || discount_types || ', discount '
            || cast(round(discount_amount, 2) as varchar) as detail
    from line_discount_codes
    where list_has_any(discount_codes, ['607', '609'])
),

-- the orders' resale customers: every customer until the customers API has been pulled
resale_order_discounts as (
    select
        order_discounts.order_id,
        coalesce(order_discounts.customer_id, orders.customer_id) as customer_id,
        order_discounts.discount_type,
        sum(order_discounts.discount_amount) as discount_amount
    from order_discounts
    left join orders using (order_id)
    where order_discounts.discount_type in ('607', '609')
    group by all
    having not exists (select 1 from customers)
        or coalesce(order_discounts.customer_id, orders.customer_id)
            in (select customer_id from customers where is_resale)
),

partner_discount_orders as (
    select
        'DISCOUNT.PARTNER_DISCOUNT_ON_RESALE' as rule_id,
        customer_id,
        order_id as reference,
        cast(0 as decimal(38, 8)) as expected,
        cast(discount_amount as decimal(38, 8)) as actual,
        cast(discount_amount as decimal(38, 8)) as difference_amount,
        'order ' || order_id || ' has a discount of type ' || discount_type || ' of '
            || cast(round(discount_amount, 2) as varchar) as detail
    from resale_order_discounts
),

no_discount_services as (
    select service_type_code from policies where allow_discount = false
),

not_allowed as (
    select
        'DISCOUNT.NOT_ALLOWED' as rule_id,
        lines.customer_id,
        lines.trade_id as reference,
        cast(0 as decimal(38, 8)) as expected,
        lines.discount_amount as actual,
        lines.discount_amount as difference_amount,
        'line ' || lines.trade_id || ' of ' || lines.service_type_code || ' has a discount of '
            || cast(round(lines.discount_amount, 2) as varchar) || ' (types ' || coalesce(lines.discount_types, 'none')
            || ')' as detail
    from lines
    join no_discount_services using (service_type_code)
    where lines.bill_type = 'Expenditure' and lines.discount_amount > 0
),

-- Lines discounted by the commercial contract alone, whose own arithmetic holds: their discount
-- must be list price × the contract rate.
-- not materialized: read three times, DuckDB would copy the month's lines into a CTE first
-- (1.5 of the 2.8 s of this model at ten million lines); each read scans them with the filter instead
contract_lines as not materialized (
    select
        *,
        case
            when billing_mode = 1 then 'ONDEMAND'
            when billing_mode = 0 and period_unit = 'Month' then 'MONTHLY'
            when billing_mode = 0 and period_unit = 'Year' then coalesce(period_num, 1) || '_YEARLY'
        end as charging_mode
    from lines
    where bill_type = 'Expenditure'
      and trim(coalesce(discount_types, '')) = '605'
      and amount_due = official_amount - discount_amount - coalesce(truncated_amount, 0)
      and amount_due = coalesce(cash_amount, 0) + coalesce(credit_amount, 0) + coalesce(cash_coupon_amount, 0)
          + coalesce(voucher_amount, 0) + coalesce(stored_card_amount, 0) + coalesce(debt_amount, 0)
          + coalesce(writeoff_amount, 0)
),

-- quoting items in force at the line's time: a product item for the line's product, or the
-- category item of its service
quoted_rates as (
    select contract_lines.trade_id, contract_lines.charging_mode as line_charging_mode, items.quoting_item_type,
           items.charging_mode, 1 - items.discount_ratio as rate
    from contract_lines
    join commercial_items as items
      on items.quoting_item_type = 'PRODUCT_ITEM' and items.product_id = contract_lines.product_id
    where coalesce(items.effective_time <= contract_lines.trade_time, true)
      and coalesce(contract_lines.trade_time < items.expire_time, true)

    union all

    select contract_lines.trade_id, contract_lines.charging_mode, items.quoting_item_type,
           items.charging_mode, 1 - items.discount_ratio
    from contract_lines
    join commercial_items as items
      on items.quoting_item_type = 'CATEGORY_ITEM' and items.service_type_code = contract_lines.service_type_code
    where coalesce(items.effective_time <= contract_lines.trade_time, true)
      and coalesce(contract_lines.trade_time < items.expire_time, true)
),

-- Per kind of item: the rate quoted for the line's charging mode, else the one rate all items
-- agree on (none when they disagree: no expectation, no finding).
rates_by_kind as (
    select
        trade_id,
        quoting_item_type,
        coalesce(
            min(rate) filter (where charging_mode = line_charging_mode),
            case when min(rate) = max(rate) then min(rate) end
        ) as rate
    from quoted_rates
    group by trade_id, quoting_item_type
),

-- a specific saving (product item) takes precedence over the product type's discount
-- (docs/domain.md#commercial-discounts)
contract_rates as (
    select
        trade_id,
        coalesce(max(rate) filter (where quoting_item_type = 'PRODUCT_ITEM'),
                 max(rate) filter (where quoting_item_type = 'CATEGORY_ITEM')) as rate
    from rates_by_kind
    group by trade_id
),

rate_checked as (
    select
        contract_lines.customer_id,
        contract_lines.trade_id,
        contract_lines.official_amount,
        contract_lines.discount_amount,
        contract_rates.rate,
        contract_lines.official_amount * contract_rates.rate as expected_discount
    from contract_lines
    join contract_rates using (trade_id)
    where contract_rates.rate is not null
),

rate_mismatch as (
    select
        'DISCOUNT.RATE_MISMATCH' as rule_id,
        customer_id,
        trade_id as reference,
        cast(expected_discount as decimal(38, 8)) as expected,
        discount_amount as actual,
        cast(discount_amount - expected_discount as decimal(38, 8)) as difference_amount,
        'line ' || trade_id || ': discount ' || cast(round(discount_amount, 2) as varchar) || ', list price '
            || cast(round(official_amount, 2) as varchar) || ' × contract rate ' || cast(rate as varchar)
            || ' = ' || cast(round(expected_discount, 2) as varchar) || ' (difference '
            || cast(round(discount_amount - expected_discount, 2) as varchar) || ')' as detail
    from rate_checked
    where abs(discount_amount - expected_discount) > 0.01
),

-- Customer-specific agreement keys whose last version has ended by the end of the cycle.
ended_keys as (
    select
        customer_id,
        service_type_code,
        resource_type_code,
        max(coalesce(valid_to, date '9999-12-31')) as ended_on
    from agreements
    where customer_id <> '*'
    group by all
    having max(coalesce(valid_to, date '9999-12-31')) <= last_day(cast($bill_cycle || '-01' as date))
),

-- the last GMT+8 trade date of each customer × service × resource type in the cycle (any bill type)
line_scopes as (
    select
        customer_id,
        service_type_code,
        coalesce(resource_type_code, '') as resource_key,
        max(trade_date_local) as last_trade_date
    from lines
    group by all
),

agreement_expired as (
    select
        'AGREEMENT.EXPIRED' as rule_id,
        ended_keys.customer_id,
        ended_keys.service_type_code || ' / ' || ended_keys.resource_type_code as reference,
        cast(null as decimal(38, 8)) as expected,
        cast(null as decimal(38, 8)) as actual,
        cast(null as decimal(38, 8)) as difference_amount,
        'the rule ' || ended_keys.service_type_code || ' / ' || ended_keys.resource_type_code || ' ended on '
            || strftime(ended_keys.ended_on, '%Y-%m-%d') || ', the customer has lines in its scope up to '
            || strftime(max(line_scopes.last_trade_date), '%Y-%m-%d') as detail
    from ended_keys
    join line_scopes
      on line_scopes.customer_id = ended_keys.customer_id
     and (ended_keys.service_type_code = '*' or ended_keys.service_type_code = line_scopes.service_type_code)
     and (ended_keys.resource_type_code = '*' or ended_keys.resource_type_code = line_scopes.resource_key)
    where line_scopes.last_trade_date > ended_keys.ended_on
    group by ended_keys.customer_id, ended_keys.service_type_code, ended_keys.resource_type_code, ended_keys.ended_on
),

-- one per original order (a refund without an order number is BILL.REFUND_WITHOUT_ORDER already)
refund_original_unknown as (
    select
        'REFUND.ORIGINAL_ORDER_UNKNOWN' as rule_id,
        customer_id,
        original_order_id as reference,
        cast(null as decimal(38, 8)) as expected,
        cast(null as decimal(38, 8)) as actual,
        cast(null as decimal(38, 8)) as difference_amount,
        'order ' || original_order_id || ' is in no bill file up to ' || $bill_cycle
            || ' and in no order pulled from the API: ' || count(*) || ' refund line(s) of it priced by grossing up '
            || case
                   when bool_and(partner_discount_known)
                       then 'with the commercial discount ' || cast(max(partner_discount_rate) as varchar)
                   else 'with no commercial discount known (the refund as list price)'
               end as detail
    from refund_originals
    where original_found_in = 'unknown' and original_order_id is not null
    group by customer_id, original_order_id
),

found as (
    select * from line_identities
    union all select * from refund_original_unknown
    union all select * from partner_discount_lines
    union all select * from partner_discount_orders
    union all select * from not_allowed
    union all select * from rate_mismatch
    union all select * from agreement_expired
),

final as (
    select
        cast($bill_cycle as varchar) as bill_cycle,
        rules.check_area,
        found.rule_id,
        rules.severity,
        found.customer_id,
        found.reference,
        found.expected,
        found.actual,
        found.difference_amount,
        rules.title || ' — ' || found.detail || '. ' || rules.action as message
    from found
    join rules using (rule_id)
    order by found.rule_id, found.customer_id, found.reference, found.difference_amount
)

select * from final
