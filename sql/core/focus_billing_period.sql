-- materialized: view
-- core.focus_billing_period: what the FOCUS exports (docs/focus.md) say about each closed bill cycle as a
-- whole: its billing period in UTC, its currency and the partner HUAWEI CLOUD bills.
-- grain: bill cycle. Source: core.bill_file_cycle, staging.bill_line, staging.api_partner_monthly_bill,
-- staging.api_indirect_partner, core.focus_account_currency.
-- A GMT+8 month starts 8 hours before its UTC midnight: 2026-09 is [2026-08-31T16:00:00Z, 2026-09-30T16:00:00Z).
-- The currency is the one HUAWEI CLOUD's monthly bill names (newest pull); without the BSS API, the
-- account's currency in partners.toml (core.focus_account_currency); without either, USD, the
-- international site's currency (docs/domain.md#sites-endpoints-and-currency).
-- The partner billed is the partner_id of the cycle's lines that is not one of the distributor's
-- resellers; a reseller's lines name the reseller (docs/formats.md), so without the resellers list
-- (BSS API) every partner_id counts as billed itself.
with cycles as (
    select * from core.bill_file_cycle
),

lines as not materialized (
    select bill_cycle, partner_id, partner_name from staging.bill_line
),

account_currencies as (
    select currency from core.focus_account_currency
),

resellers as (
    select distinct indirect_partner_id from staging.api_indirect_partner
),

monthly_bills as (
    select bill_cycle, currency
    from staging.api_partner_monthly_bill
    where currency is not null
    qualify row_number() over (partition by bill_cycle order by fetched_at desc) = 1
),

billed_partners as (
    select bill_cycle, partner_id, max(partner_name) as partner_name
    from lines
    where partner_id is not null and partner_id not in (select indirect_partner_id from resellers)
    group by bill_cycle, partner_id
    -- one partner today; were there several, the one with the most lines
    qualify row_number() over (partition by bill_cycle order by count(*) desc, partner_id) = 1
),

final as (
    select
        cycles.bill_cycle,
        timezone('Asia/Shanghai', strptime(cycles.bill_cycle || '-01', '%Y-%m-%d')) as billing_period_start,
        timezone('Asia/Shanghai', strptime(cycles.bill_cycle || '-01', '%Y-%m-%d') + interval 1 month)
            as billing_period_end,
        coalesce(monthly_bills.currency, (select max(currency) from account_currencies), 'USD') as billing_currency,
        billed_partners.partner_id,
        billed_partners.partner_name
    from cycles
    left join monthly_bills using (bill_cycle)
    left join billed_partners using (bill_cycle)
)

select * from final
