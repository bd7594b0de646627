-- staging.chart_of_account: the partner's ledger code and name for each account of the journal
-- (docs/formats.md#chart-of-accounts, docs/journal.md). Source: agreements/chart_of_accounts.csv (newest delivery).
create table if not exists staging.chart_of_account (
    account         varchar not null,            -- one of the journal's accounts, e.g. revenue
    account_code    varchar not null,
    account_name    varchar not null,
    extra           varchar,
    src_object      varchar not null,
    src_record      bigint not null,
    src_sha256      varchar not null,
    load_id         varchar not null
);
