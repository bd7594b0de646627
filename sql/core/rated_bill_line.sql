-- materialized: view
-- core.rated_bill_line: every bill line of the cycle with the customer's agreed discount applied.
-- grain: one bill line. Sources: staging.bill_line, core.line_agreement (the agreed rate of its key),
-- core.refund_original_order (the original order of each refund line).
-- The customer pays list price × (1 − agreed rate) on Expenditure lines. A Refund line gives the
-- customer back the share of the original order's customer charge that HUAWEI CLOUD refunds of the
-- original amount due, at the agreement in force on the original order's date; a refund whose
-- original order is unknown is grossed up with the partner's discount (docs/reconciliation.md,
-- "Refunds"). Adjustment lines stay between HUAWEI CLOUD and the partner (docs/domain.md#bill-types), so
-- they carry no customer charge.
-- The agreed rate of each line's key comes from core.line_agreement, built per cycle (why a table:
-- see there). The lines are imported once, by one CTE: DuckDB materializes a CTE that is read twice,
-- copying every month of staging.bill_line before a query's bill cycle (or customer) filter applies,
-- and the `not materialized` hint does not survive a view stored in the warehouse file (DuckDB 1.5.5).
-- Read once, the scan takes the filter and the lines stream.
-- A view, not a table: the marts aggregate it and the reports stream it, so the lines are never copied.
with lines as (
    select * from staging.bill_line
),

refund_originals as (
    select * from core.refund_original_order
),

agreements as (
    select * from core.line_agreement
),

-- A refund is rated at the agreement of its original order's date (its own date when the order is
-- unknown): one rate per line, so each line looks up one key.
dated as (
    select
        lines.*,
        coalesce(originals.original_trade_date_local, lines.trade_date_local) as agreement_date,
        originals.original_found_in,
        originals.original_official_amount,
        originals.original_amount_due,
        originals.partner_discount_rate
    from lines
    -- only refund lines find a row here (few per cycle); the join is on the line's identity
    left join refund_originals as originals
        on originals.bill_cycle = lines.bill_cycle
        and originals.src_object = lines.src_object
        and originals.src_member = lines.src_member
        and originals.src_record = lines.src_record
),

rated as (
    select
        dated.*,
        coalesce(agreements.discount_rate, 0)::decimal(9, 6) as agreed_rate,
        agreements.rule_label as agreed_rule
    from dated
    left join agreements
        on agreements.bill_cycle = dated.bill_cycle
        and agreements.customer_id = dated.customer_id
        and agreements.service_type_code = dated.service_type_code
        and agreements.resource_key = coalesce(dated.resource_type_code, '')
        and agreements.trade_date_local = dated.agreement_date
),

-- A refund's charge is base × numerator ÷ denominator, rounded half away from zero to 8 places:
-- known original: the original order's customer charge × (refund amount due ÷ original amount due);
-- unknown: the refund amount due at the customer's discount ÷ (1 − the partner's discount).
-- DuckDB divides decimals as floats, so final divides whole 1e-8 units (HUGEINT), on refund lines only.
refund_shares as (
    select
        *,
        case
            when bill_type <> 'Refund' then null
            when original_found_in in ('bill_file', 'api_order')
                then (original_official_amount * (1 - agreed_rate))::decimal(20, 8)
            else (amount_due * (1 - agreed_rate))::decimal(20, 8)
        end as share_base,
        case when original_found_in in ('bill_file', 'api_order') then amount_due else 1 end as share_numerator,
        case
            when original_found_in in ('bill_file', 'api_order') then original_amount_due
            else 1 - coalesce(partner_discount_rate, 0)
        end as share_denominator
    from rated
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
        lines.agreed_rate as discount_rate,
        lines.agreed_rule as agreement_rule,
        lines.agreed_rule is not null as has_agreement,
        case
            -- nearly every line: |list price| < 1000 and |1 − rate| < 10, so the product fits a 64-bit
            -- decimal(18, 14), whose rounding to 8 places cost 0.4 CPU-s for ten million lines against
            -- 10.6 for the 128-bit decimal(37, 14) of the next branch; both round half away from zero
            when
                lines.bill_type = 'Expenditure' and abs(lines.official_amount) < 1000
                and abs(1 - lines.agreed_rate) < 10
                then (lines.official_amount::decimal(11, 8) * (1 - lines.agreed_rate)::decimal(7, 6))::decimal(18, 8)
            when lines.bill_type = 'Expenditure' then (lines.official_amount * (1 - lines.agreed_rate))::decimal(20, 8)
            when lines.bill_type <> 'Refund' then 0::decimal(20, 8)
            when lines.share_denominator = 0 then 0::decimal(20, 8)
            else (sign(lines.share_base) * sign(lines.share_numerator) * sign(lines.share_denominator)
                  * ((2 * abs((lines.share_base * 100000000)::hugeint * (lines.share_numerator * 100000000)::hugeint)
                      + abs((lines.share_denominator * 100000000)::hugeint))
                     // (2 * abs((lines.share_denominator * 100000000)::hugeint))))::decimal(38, 0)
                 * 0.00000001::decimal(9, 8)
        end::decimal(20, 8) as customer_charge_amount,
        lines.original_found_in as refund_original_found_in,
        lines.src_object,
        lines.src_member,
        lines.src_record,
        -- what the FOCUS exports describe a line with (core.focus_charge), read in this same pass
        lines.account_name,
        lines.discount_types,
        lines.order_type,
        lines.period_num,
        lines.period_unit,
        lines.product_id,
        lines.spec_desc,
        lines.usage_type,
        lines.is_spot,
        lines.region_name
    from refund_shares as lines
)

select * from final
