-- staging.api_partner_monthly_bill: HUAWEI CLOUD's monthly bill to the partner.
-- grain: bill cycle. Source: GET /v2/bills/partner-bills/postpaid-bill-summary?bill_cycle=YYYY-MM.
-- initial_amount_due = consume_amount + refunds + adjustments (checked: audit.findings API.PARTNER_BILL_IDENTITY).
create table if not exists staging.api_partner_monthly_bill (
    bill_cycle          varchar not null,
    fetched_at          timestamptz not null,
    consume_amount      decimal(20, 8) not null,
    refunds             decimal(20, 8) not null,
    adjustments         decimal(20, 8) not null,
    initial_amount_due  decimal(20, 8) not null,
    tax_amount          decimal(20, 8),          -- output tax, outside initial_amount_due
    currency            varchar,
    src_snapshot        varchar not null,
    src_sha256          varchar not null,
    src_record          bigint not null,
    load_id             varchar not null
);
