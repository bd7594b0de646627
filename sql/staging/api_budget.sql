-- staging.api_budget: customer budgets, one copy per snapshot date. Budgets count list-price spend;
-- used_amount is HUAWEI CLOUD's own (delayed) estimate. Customers without a budget have no row.
-- grain: snapshot_date × customer. Source: POST /v2/partners/sub-customers/budget/query (≤100 ids per call).
create table if not exists staging.api_budget (
    snapshot_date        date not null,
    fetched_at           timestamptz not null,
    customer_id          varchar not null,
    indirect_partner_id  varchar,
    budget_type          varchar,                -- MONTHLY (resets on the 1st, GMT+8) | PACKAGE (one-time)
    budget_amount        decimal(20, 8) not null,
    used_amount          decimal(20, 8),
    measure_id           integer,
    currency             varchar,
    src_snapshot         varchar not null,
    src_sha256           varchar not null,
    src_record           bigint not null,
    load_id              varchar not null
);
