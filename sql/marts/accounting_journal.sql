-- materialized: partition
-- marts.accounting_journal: the month's double-entry lines for the partner's ledger, per customer
-- (docs/journal.md): the sale at the agreed discount and refunds to the customer (receivable from the
-- customer), the cost, HUAWEI CLOUD's refunds, coupons and vouchers and adjustments (payable to HUAWEI
-- CLOUD), and the partner's incentive receivable (no customer). Every posting is one debit and one
-- credit line of equal amount; a negative amount swaps the sides, so amounts are never negative.
-- grain: bill_cycle × customer × entry × account. Sources: marts.customer_monthly_expenditure (the
-- customer charge with its refunds apart, customer_refund_amount), marts.incentive_reconciliation,
-- core.chart_of_accounts, staging.api_indirect_partner (to tell the partner's own id from its resellers').
with expenditure as (
    select * from marts.customer_monthly_expenditure where bill_cycle = $bill_cycle
),

incentives as (
    select * from marts.incentive_reconciliation where period = $bill_cycle
),

chart as (
    select * from core.chart_of_accounts
),

resellers as (
    select * from staging.api_indirect_partner
),

customers as (
    select
        customer_id,
        max(customer_name) as customer_name,
        max(partner_id) as partner_id,
        sum(amount_due) as amount_due,
        sum(coupon_paid_amount) as coupon_paid_amount,
        sum(refund_amount) as refund_amount,
        sum(adjustment_amount) as adjustment_amount,
        -- the charge of Expenditure lines (Adjustment lines charge nothing) and of Refund lines
        sum(customer_charge_amount - customer_refund_amount) as sale_charge_amount,
        sum(customer_refund_amount) as refund_charge_amount
    from expenditure
    group by customer_id
),

-- the partner's own id: the one on the lines of customers not bought through a reseller (a reseller's
-- customers carry the reseller's id); unknown (null) unless exactly one id is left
partner as (
    select case when count(distinct partner_id) = 1 then max(partner_id) end as partner_id
    from expenditure
    where partner_id not in (select indirect_partner_id from resellers)
),

-- one row per posting: amount > 0 debits debit_account and credits credit_account
postings (customer_id, customer_name, partner_id, entry, debit_account, credit_account, amount, memo) as (
    select customer_id, customer_name, partner_id, 'sale', 'customer_receivable', 'revenue',
           sale_charge_amount, 'usage billed to the customer at the agreed discount'
    from customers
    union all
    select customer_id, customer_name, partner_id, 'customer_refund', 'customer_refunds', 'customer_receivable',
           -refund_charge_amount, 'refunds credited to the customer at the agreed discount'
    from customers
    union all
    select customer_id, customer_name, partner_id, 'cost', 'cost_of_sales', 'huawei_payable',
           amount_due, 'amount due to HUAWEI CLOUD for the customer''s usage'
    from customers
    union all
    select customer_id, customer_name, partner_id, 'huawei_refund', 'huawei_payable', 'cost_refunds',
           -refund_amount, 'refunds HUAWEI CLOUD credits for the customer''s returned orders'
    from customers
    union all
    select customer_id, customer_name, partner_id, 'coupons', 'huawei_payable', 'coupons_and_vouchers',
           coupon_paid_amount, 'part of the amount due paid by cash coupons, vouchers and stored-value cards'
    from customers
    union all
    select customer_id, customer_name, partner_id, 'adjustment', 'billing_adjustments', 'huawei_payable',
           adjustment_amount, 'HUAWEI CLOUD''s adjustments (between HUAWEI CLOUD and the partner)'
    from customers
    union all
    select null, null, (select partner_id from partner), 'incentive', 'incentive_receivable', 'incentive_income',
           coalesce(sum(expected_incentive_amount), 0), 'incentive expected for the month''s performance'
    from incentives
),

sides as (
    select customer_id, customer_name, partner_id, entry, memo,
           case when amount >= 0 then debit_account else credit_account end as account,
           abs(amount) as debit_amount, 0 as credit_amount
    from postings
    where amount <> 0
    union all
    select customer_id, customer_name, partner_id, entry, memo,
           case when amount >= 0 then credit_account else debit_account end as account,
           0 as debit_amount, abs(amount) as credit_amount
    from postings
    where amount <> 0
),

final as (
    select
        $bill_cycle as bill_cycle,
        sides.partner_id,
        sides.customer_id,
        sides.customer_name,
        sides.entry,
        sides.account,
        chart.account_code,
        chart.account_name,
        chart.section,
        sides.debit_amount::decimal(38, 8) as debit_amount,
        sides.credit_amount::decimal(38, 8) as credit_amount,
        sides.memo
    from sides
    join chart using (account)
    order by sides.customer_id nulls last, sides.entry, sides.debit_amount desc, chart.account_code
)

select * from final
