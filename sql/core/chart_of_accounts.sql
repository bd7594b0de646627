-- materialized: table
-- core.chart_of_accounts: the ledger code and name each account of the journal posts to
-- (docs/journal.md#chart-of-accounts). The partner's chart (staging.chart_of_account, from
-- agreements/chart_of_accounts.csv) wins; an account it does not map, or every account when the
-- file was never delivered, takes the default below. `source` says which applied; `section` says
-- where the account reports: margin (revenue and cost of sales, the customer margin), outside_margin
-- (incentives, HUAWEI CLOUD's adjustments) or balance_sheet.
-- grain: one journal account. Source: staging.chart_of_account.
with staged as (
    select * from staging.chart_of_account
),

default_chart (account, account_code, account_name, section) as (
    values
        ('customer_receivable', '1200', 'Accounts receivable – customers', 'balance_sheet'),
        ('coupons_and_vouchers', '1410', 'Coupons, vouchers and stored-value cards – HUAWEI CLOUD', 'balance_sheet'),
        ('incentive_receivable', '1420', 'Incentive receivable – HUAWEI CLOUD', 'balance_sheet'),
        ('huawei_payable', '2100', 'Payable to HUAWEI CLOUD', 'balance_sheet'),
        ('revenue', '4000', 'Cloud services revenue', 'margin'),
        ('customer_refunds', '4010', 'Refunds to customers', 'margin'),
        ('incentive_income', '4900', 'Partner incentive income – HUAWEI CLOUD', 'outside_margin'),
        ('cost_of_sales', '5000', 'Cost of sales – HUAWEI CLOUD', 'margin'),
        ('cost_refunds', '5010', 'Refunds from HUAWEI CLOUD', 'margin'),
        ('billing_adjustments', '5900', 'Billing adjustments – HUAWEI CLOUD', 'outside_margin')
),

final as (
    select
        default_chart.account,
        coalesce(staged.account_code, default_chart.account_code) as account_code,
        coalesce(staged.account_name, default_chart.account_name) as account_name,
        default_chart.section,
        case when staged.account is null then 'default' else staged.src_object end as source
    from default_chart
    left join staged using (account)
    order by default_chart.account_code
)

select * from final
