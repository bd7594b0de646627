-- materialized: view
-- marts.discount_audit: bill lines, orders, customer services and agreement rules whose discounts
-- break a rule of docs/reconciliation.md; the discount-area rows of marts.reconciliation_findings.
-- grain: one finding. Sources: core.discount_finding (every bill cycle), marts.customer_monthly_expenditure
-- (negative margins on the Expenditure lines per customer and service, every bill cycle) and
-- audit.findings (the agreement overlaps staging found in agreements/customer_discounts.csv; they
-- belong to no cycle).
with cycle_findings as (
    select * from core.discount_finding
),

margins as (
    select * from marts.customer_monthly_expenditure
),

staged_overlaps as (
    select * from audit.findings where source = 'agreements' and rule_id = 'AGREEMENT.OVERLAP'
),

rules as (
    select rule_id, area as check_area, severity, title, action from audit.rules
),

-- On what the agreement prices: the cycle's Expenditure lines. A refund mirrors the margin of its
-- original order (docs/reconciliation.md, "Refunds"), so a cycle whose refunds outweigh its spend
-- loses margin without any agreement below cost.
expenditure_margins as (
    select
        bill_cycle,
        customer_id,
        service_type_code,
        amount_due,
        customer_charge_amount - customer_refund_amount as charged,
        customer_charge_amount - customer_refund_amount - amount_due as margin
    from margins
),

negative_margins as (
    select
        margins.bill_cycle,
        rules.check_area,
        rules.rule_id,
        rules.severity,
        margins.customer_id,
        margins.service_type_code as reference,
        cast(margins.amount_due as decimal(38, 8)) as expected,
        cast(margins.charged as decimal(38, 8)) as actual,
        cast(margins.margin as decimal(38, 8)) as difference_amount,
        rules.title || ' — ' || margins.service_type_code || ': the customer is billed '
            || cast(round(margins.charged, 2) as varchar)
            || ', HUAWEI CLOUD charges ' || cast(round(margins.amount_due, 2) as varchar)
            || ' (margin ' || cast(round(margins.margin, 2) as varchar) || '). ' || rules.action as message
    from expenditure_margins as margins
    cross join rules
    where rules.rule_id = 'DISCOUNT.NEGATIVE_MARGIN' and margins.margin < 0
),

-- Rates are not money: they go into the message, and the money columns stay empty.
overlap_findings as (
    select
        cast(null as varchar) as bill_cycle,
        rules.check_area,
        rules.rule_id,
        rules.severity,
        staged_overlaps.customer_id,
        staged_overlaps.reference,
        cast(null as decimal(38, 8)) as expected,
        cast(null as decimal(38, 8)) as actual,
        cast(null as decimal(38, 8)) as difference_amount,
        rules.title || ' — ' || staged_overlaps.reference || ' of customer ' || staged_overlaps.customer_id
            || ' at rates ' || cast(staged_overlaps.expected as varchar) || ' and '
            || cast(staged_overlaps.actual as varchar) || ' '
            || regexp_extract(staged_overlaps.message, '\(records \d+ and \d+\)') || '. ' || rules.action as message
    from staged_overlaps
    join rules using (rule_id)
),

-- Each part has the columns of a finding (docs/reconciliation.md), exactly: matched by name.
unioned as (
    select * from cycle_findings
    union all by name
    select * from negative_margins
    union all by name
    select * from overlap_findings
),

final as (
    select
        rule_id,
        severity,
        bill_cycle,
        customer_id,
        reference,
        expected,
        actual,
        difference_amount,
        message,
        check_area
    from unioned
    order by bill_cycle nulls first, rule_id, customer_id, reference, difference_amount, message
)

select * from final
