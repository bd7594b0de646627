-- materialized: view
-- core.focus_charge: each bill line of a closed cycle described in FOCUS 1.2 terms, whoever bills it
-- (docs/focus.md): billing period and currency, charge category, class, frequency and period, commitment
-- discount, quantities and units, service category, SKU, region and resource, and the x_ columns both
-- views share. The two FOCUS views add the amounts and the accounts of their side; the lower-case
-- columns are keys for them, not FOCUS columns: the views take every column named like a FOCUS column
-- (capitalised) or an x_ column as it is, and none of the keys.
-- grain: one bill line. Source: core.rated_bill_line (the lines with the customer's agreed price, for the
-- customer view), staging.bill_line (the orders refunds name), staging.api_indirect_partner,
-- core.focus_billing_period, core.focus_service_category and core.focus_pricing_unit (data files under
-- sql/seeds).
-- Lean for the exports of millions of lines: the lines are read once, every join's other side is small
-- (a cycle, a reseller, a service type, a unit, an order a refund names).
-- Billing modes are the file's codes (docs/formats.md#billing-mode-codes): 0 yearly/monthly, 1 pay-per-use,
-- 2/3 reserved instance subscription/hourly, 4/5/6 savings plan subscription/hourly/deduction.
with lines as not materialized (
    select * from core.rated_bill_line
),

-- staging.bill_line imported twice, each import read once and filtered: DuckDB materializes a CTE
-- read twice (a copy of every month's lines), and a stored view loses `not materialized` (1.5.5)
refund_lines as (
    select * from staging.bill_line
),

order_lines as (
    select * from staging.bill_line
),

indirect_partners as (
    select * from staging.api_indirect_partner
),

service_categories as (
    select * from core.focus_service_category
),

pricing_units as (
    select * from core.focus_pricing_unit
),

periods as (
    select * from core.focus_billing_period
),

-- the orders of the cycle that a refund of the cycle names: a handful, not every order of the month
refunded_orders as (
    select distinct bill_cycle, original_order_id as trade_id
    from refund_lines
    where bill_type = 'Refund' and original_order_id is not null
),

resellers as (
    select indirect_partner_id, max(name) as reseller_name
    from indirect_partners
    group by indirect_partner_id
),

-- orders bought in the cycle itself: a refund of one of them corrects nothing already invoiced, and
-- takes the order's quantity (negative) when its own line has none
cycle_orders as (
    select
        bill_cycle,
        trade_id,
        max(period_num) as period_num,
        max(period_unit) as period_unit,
        max(usage_amount) as usage_amount,
        max(usage_unit) as usage_unit
    from order_lines
    semi join refunded_orders using (bill_cycle, trade_id)
    where bill_type = 'Expenditure'
    group by bill_cycle, trade_id
),

quantified as (
    select
        lines.*,
        cycle_orders.trade_id is not null as refunds_cycle_order,
        case when lines.bill_type = 'Refund' and lines.period_num is null
             then -cycle_orders.period_num else lines.period_num end as term_count,
        coalesce(lines.period_unit, cycle_orders.period_unit) as term_unit,
        case when lines.bill_type = 'Refund' and lines.usage_amount is null
             then -cycle_orders.usage_amount else lines.usage_amount end as use_amount,
        coalesce(lines.usage_unit, cycle_orders.usage_unit) as use_unit
    from lines
    left join cycle_orders
        on lines.bill_type = 'Refund'
        and cycle_orders.bill_cycle = lines.bill_cycle
        and cycle_orders.trade_id = lines.original_order_id
),

classified as (
    select
        lines.*,
        case
            when lines.bill_type = 'Adjustment' then 'Adjustment'
            when lines.billing_mode in (0, 2, 3, 4, 5) then 'Purchase'
            else 'Usage'
        end as charge_category,
        case
            when lines.bill_type = 'Adjustment' then 'One-Time'
            when lines.billing_mode in (3, 5) then 'Recurring'
            when lines.billing_mode in (0, 2, 4) then 'One-Time'
            else 'Usage-Based'
        end as charge_frequency,
        case
            when lines.bill_type = 'Refund' and not lines.refunds_cycle_order then 'Correction'
        end as charge_class,
        case
            when lines.billing_mode in (2, 3) then 'Usage'
            when lines.billing_mode in (4, 5) then 'Spend'
        end as commitment_discount_category,
        timezone('Asia/Shanghai', lines.trade_time) as trade_time_gmt8,
        -- a unit the data file does not know yet is shown as delivered rather than lost
        coalesce(usage_units.pricing_unit, lines.use_unit) as usage_unit_focus,
        coalesce(period_units.pricing_unit, lines.term_unit) as period_unit_focus
    from quantified as lines
    left join pricing_units as usage_units on usage_units.usage_unit = lines.use_unit
    left join pricing_units as period_units on period_units.usage_unit = lines.term_unit
),

final as (
    select
        classified.bill_cycle,
        classified.src_member,
        classified.src_record,
        classified.customer_id,
        classified.account_name,
        classified.customer_name,
        -- HUAWEI CLOUD bills the partner for its resellers' customers too (docs/focus.md#partner-and-resellers)
        coalesce(periods.partner_id, classified.partner_id) as billed_partner_id,
        coalesce(periods.partner_name, classified.partner_name, classified.partner_id) as billed_partner_name,
        -- HUAWEI CLOUD's amounts, for the partner view (read here, not by a second pass over the lines)
        classified.official_amount,
        classified.discount_amount,
        classified.discount_types,
        classified.truncated_amount,
        classified.amount_due,
        classified.cash_coupon_amount,
        classified.voucher_amount,
        classified.stored_card_amount,
        -- the partner's price to the customer, for the customer view
        classified.customer_charge_amount,
        classified.discount_rate,
        classified.agreement_rule,
        periods.billing_currency as "BillingCurrency",
        periods.billing_period_end as "BillingPeriodEnd",
        periods.billing_period_start as "BillingPeriodStart",
        classified.charge_category as "ChargeCategory",
        classified.charge_class as "ChargeClass",
        coalesce(classified.product_name, classified.service_type_name, classified.service_type_code)
            || coalesce(' | ' || classified.spec_desc, '') as "ChargeDescription",
        classified.charge_frequency as "ChargeFrequency",
        -- a subscription's charge covers its term from the order; anything else the GMT+8 day it was charged
        case
            when classified.bill_type = 'Expenditure' and classified.billing_mode in (0, 2, 4)
                    and classified.period_num > 0 and classified.period_unit in ('Month', 'Year')
                then classified.trade_time
            else timezone('Asia/Shanghai', classified.trade_date_local::timestamp)
        end as "ChargePeriodStart",
        case
            when classified.bill_type = 'Expenditure' and classified.billing_mode in (0, 2, 4)
                    and classified.period_num > 0 and classified.period_unit = 'Month'
                then timezone('Asia/Shanghai', classified.trade_time_gmt8 + to_months(classified.period_num))
            when classified.bill_type = 'Expenditure' and classified.billing_mode in (0, 2, 4)
                    and classified.period_num > 0 and classified.period_unit = 'Year'
                then timezone('Asia/Shanghai', classified.trade_time_gmt8 + to_years(classified.period_num))
            else timezone('Asia/Shanghai', classified.trade_date_local::timestamp + interval 1 day)
        end as "ChargePeriodEnd",
        classified.commitment_discount_category as "CommitmentDiscountCategory",
        case when classified.commitment_discount_category is not null then classified.resource_id end
            as "CommitmentDiscountId",
        case when classified.commitment_discount_category is not null then classified.resource_name end
            as "CommitmentDiscountName",
        case
            when classified.commitment_discount_category is not null and classified.charge_category = 'Purchase'
                then coalesce(classified.use_amount, classified.term_count::decimal(28, 8))
        end as "CommitmentDiscountQuantity",
        case
            when classified.commitment_discount_category = 'Usage' then 'Reserved Instance'
            when classified.commitment_discount_category = 'Spend' then 'Savings Plan'
        end as "CommitmentDiscountType",
        case
            when classified.commitment_discount_category is not null and classified.charge_category = 'Purchase'
                then case when classified.use_amount is not null then usage_unit_focus
                          else period_unit_focus end
        end as "CommitmentDiscountUnit",
        case when classified.charge_category = 'Usage' then classified.use_amount end as "ConsumedQuantity",
        case when classified.charge_category = 'Usage' and classified.use_amount is not null
             then usage_unit_focus end as "ConsumedUnit",
        case
            when classified.charge_category = 'Adjustment' then null
            when classified.billing_mode = 6 then 'Committed'
            when classified.is_spot = 'Y' then 'Dynamic'
            else 'Standard'
        end as "PricingCategory",
        -- pay-per-use and hourly fees are priced per unit of use, subscriptions per term
        case
            when classified.charge_category = 'Adjustment' then null
            when classified.billing_mode in (0, 2, 4) and classified.term_count <> 0
                then classified.term_count::decimal(28, 8)
            else classified.use_amount
        end as "PricingQuantity",
        case
            when classified.charge_category = 'Adjustment' then null
            when classified.billing_mode in (0, 2, 4) and classified.term_count <> 0 then period_unit_focus
            when classified.use_amount is not null then usage_unit_focus
        end as "PricingUnit",
        classified.region_code as "RegionId",
        case when classified.region_code is not null
             then coalesce(classified.region_name, classified.region_code) end as "RegionName",
        classified.resource_id as "ResourceId",
        -- a name that only repeats the id says nothing
        case when classified.resource_id is not null and classified.resource_name <> classified.resource_id
             then classified.resource_name end as "ResourceName",
        case when classified.resource_id is not null
             then coalesce(classified.resource_type_name, classified.resource_type_code) end as "ResourceType",
        coalesce(service_categories.service_category, 'Other') as "ServiceCategory",
        coalesce(classified.service_type_name, classified.service_type_code) as "ServiceName",
        coalesce(service_categories.service_subcategory, 'Other (Other)') as "ServiceSubcategory",
        'HUAWEI CLOUD' as "ProviderName",
        'HUAWEI CLOUD' as "PublisherName",
        case when classified.charge_category <> 'Adjustment' then classified.product_id end as "SkuId",
        case when classified.charge_category <> 'Adjustment' and classified.product_id is not null
             then classified.usage_type end as "SkuMeter",
        case when classified.charge_category <> 'Adjustment' then classified.product_id end as "SkuPriceId",
        classified.bill_cycle as "x_BillCycle",
        classified.bill_type as "x_BillType",
        classified.billing_mode as "x_BillingMode",
        classified.order_type as "x_OrderType",
        classified.trade_id as "x_TradeId",
        classified.original_order_id as "x_OriginalOrderId",
        classified.service_type_code as "x_ServiceTypeCode",
        classified.resource_type_code as "x_ResourceTypeCode",
        resellers.indirect_partner_id as "x_ResellerId",
        resellers.reseller_name as "x_ResellerName",
        -- where the line is in the bill file: member and record number
        classified.src_member as "x_SourceMember",
        classified.src_record as "x_SourceRecord"
    from classified
    join periods on periods.bill_cycle = classified.bill_cycle
    left join resellers on resellers.indirect_partner_id = classified.partner_id
    left join service_categories on service_categories.service_type_code = classified.service_type_code
)

select * from final
