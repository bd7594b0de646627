-- materialized: table
-- marts.reconciliation_findings: every reconciliation finding of docs/reconciliation.md, all areas,
-- all cycles: what analysts filter and the reports list.
-- grain: one finding. Sources: marts.partner_bill_tieout, marts.customer_bill_tieout (tie-outs of cycles
-- with a bill file), marts.discount_audit, marts.incentive_reconciliation, marts.budget_status (and
-- core.open_month),
-- core.coupon_expiry_finding, core.coupon_balance_finding; severities and texts from audit.rules.
-- Sign: difference_amount = actual − expected (expected: our computation or the authoritative side).
-- bill_cycle is null for findings that belong to no cycle (agreement overlaps, coupons used beyond
-- their balance over all loaded cycles); budget findings carry the open month (closed months'
-- budget rows are status, kept for their packs).
with partner_tieout as (
    select * from marts.partner_bill_tieout
),

customer_tieout as (
    select * from marts.customer_bill_tieout
),

discount_findings as (
    select * from marts.discount_audit
),

incentives as (
    select * from marts.incentive_reconciliation
),

budgets as (
    select * from marts.budget_status
),

open_month as (
    select * from core.open_month
),

coupon_expiry_findings as (
    select * from core.coupon_expiry_finding
),

coupon_balance_findings as (
    select * from core.coupon_balance_finding
),

rules as (
    select rule_id, area as check_area, severity, title, action from audit.rules
),

-- Both tie-outs set the bill file (expected) against the API (actual); each says so in its own words.
tieouts as (
    select
        'TIEOUT.PARTNER_BILL' as rule_id,
        bill_cycle,
        cast(null as varchar) as customer_id,
        component as reference,
        file_amount,
        api_amount,
        difference_amount,
        status,
        bill_file_present,
        component || ': the bill file adds up to ' as file_words,
        'nothing' as no_file_amount,
        ', HUAWEI CLOUD''s monthly bill says ' as api_words,
        'nothing (no monthly bill in the API)' as no_api_amount
    from partner_tieout

    union all by name

    select
        case status
            when 'missing_in_api' then 'TIEOUT.CUSTOMER_MISSING_IN_API'
            when 'missing_in_file' then 'TIEOUT.CUSTOMER_MISSING_IN_FILE'
            else 'TIEOUT.CUSTOMER_AMOUNT'
        end as rule_id,
        bill_cycle,
        customer_id,
        cast(null as varchar) as reference,
        file_amount,
        api_amount,
        difference_amount,
        status,
        bill_file_present,
        'the customer''s lines add up to ' as file_words,
        'nothing (no line)' as no_file_amount,
        ', its monthly sums in the API to ' as api_words,
        'nothing (no monthly sum)' as no_api_amount
    from customer_tieout
),

-- A cycle without a bill file (the open month) shows its API side in the tie-out marts but is not a finding.
tieout_found as (
    select
        rule_id,
        bill_cycle,
        customer_id,
        reference,
        file_amount as expected,
        api_amount as actual,
        difference_amount,
        file_words || coalesce(cast(round(file_amount, 2) as varchar), no_file_amount)
            || api_words || coalesce(cast(round(api_amount, 2) as varchar), no_api_amount)
            || ', difference ' || cast(round(difference_amount, 2) as varchar) as detail
    from tieouts
    where bill_file_present and status <> 'matched'
),

incentive_found as (
    select
        case comparison_status
            when 'mismatch' then 'INCENTIVE.AMOUNT_MISMATCH'
            when 'missing_in_statement' then 'INCENTIVE.MISSING_IN_STATEMENT'
            else 'INCENTIVE.EXTRA_IN_STATEMENT'
        end as rule_id,
        period as bill_cycle,
        cast(null as varchar) as customer_id,
        service_type_code as reference,
        expected_incentive_amount as expected,
        statement_incentive_amount as actual,
        difference_amount,
        incentive_type || ' of ' || coalesce(service_type_code, 'all products') || ': expected '
            || coalesce(cast(round(expected_incentive_amount, 2) as varchar), 'nothing (no eligible performance)')
            || coalesce(' (performance ' || cast(round(eligible_performance_amount, 2) as varchar)
                        || ' × rate ' || cast(rate as varchar) || ')', '')
            || ', the statement says ' || coalesce(cast(round(statement_incentive_amount, 2) as varchar), 'nothing')
            || ', difference ' || cast(round(difference_amount, 2) as varchar)
            || coalesce('; frozen: ' || frozen_reason, '') as detail
    from incentives
    where comparison_status in ('mismatch', 'missing_in_statement', 'extra_in_statement')
),

-- only the open month raises it: freezing the customer or raising its budget is still possible then
budget_found as (
    select
        'BUDGET.OVER_NOT_FROZEN' as rule_id,
        bill_cycle,
        customer_id,
        cast(null as varchar) as reference,
        budget_amount as expected,
        budget_used_amount as actual,
        cast(budget_used_amount - budget_amount as decimal(38, 8)) as difference_amount,
        'spent ' || cast(round(budget_used_amount, 2) as varchar) || ' at list price '
            || case when budget_type = 'PACKAGE' then 'since the budget was set' else 'this month' end
            || ' as of ' || strftime(as_of_date, '%Y-%m-%d') || ' against a ' || lower(coalesce(budget_type, ''))
            || ' budget of ' || cast(round(budget_amount, 2) as varchar) || ' (over by '
            || cast(round(budget_used_amount - budget_amount, 2) as varchar) || ')' as detail
    from budgets
    where threshold_crossed_ratio = 1 and not coalesce(is_frozen, false)
      and bill_cycle = (select bill_cycle from open_month)
),

derived as (
    select * from tieout_found
    union all select * from incentive_found
    union all select * from budget_found
),

derived_findings as (
    select
        derived.rule_id,
        rules.severity,
        derived.bill_cycle,
        derived.customer_id,
        derived.reference,
        cast(derived.expected as decimal(38, 8)) as expected,
        cast(derived.actual as decimal(38, 8)) as actual,
        cast(derived.difference_amount as decimal(38, 8)) as difference_amount,
        rules.title || ' — ' || derived.detail || '. ' || rules.action as message,
        rules.check_area
    from derived
    join rules using (rule_id)
),

-- Each has the columns of a finding, exactly: matched by name.
complete_findings as (
    select * from discount_findings
    union all by name
    select * from coupon_expiry_findings
    union all by name
    select * from coupon_balance_findings
),

final as (
    select * from derived_findings
    union all by name
    select * from complete_findings
    order by check_area, bill_cycle nulls first, rule_id, customer_id nulls first, reference nulls first,
             difference_amount nulls first, message
)

select * from final
