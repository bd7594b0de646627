-- materialized: view
-- marts.chart_of_accounts: the ledger code and name each account of the accounting journal posts to,
-- and whether the partner's chart (agreements/chart_of_accounts.csv) or the default chart of
-- docs/journal.md gave it: core.chart_of_accounts as analysts and the month-close pack read it
-- (reports read marts only).
-- grain: one journal account. Source: core.chart_of_accounts.
with chart as (
    select * from core.chart_of_accounts
),

final as (
    select account, account_code, account_name, section, source
    from chart
)

select * from final
