-- staging.api_customer: the partner's customers as the BSS API lists them, one copy per snapshot date.
-- grain: snapshot_date × customer. Source: POST /v2/partners/sub-customers/query, once for the
-- partner's own customers and once per reseller (indirect_partner_id; null = the partner's own).
create table if not exists staging.api_customer (
    snapshot_date        date not null,          -- GMT+8 date of the pull
    fetched_at           timestamptz not null,
    customer_id          varchar not null,
    account_name         varchar,
    customer_name        varchar,
    indirect_partner_id  varchar,                -- the reseller the customer belongs to; null = the partner's own
    association_type     varchar,                -- code as delivered: 1 referral, 3 (intl) / 2 (cn) resale
    association          varchar,                -- 'referral' | 'resale'
    associated_on        timestamptz,
    is_frozen            boolean,
    verified_status      integer,
    customer_type        integer,
    customer_level       varchar,
    label                varchar,
    email                varchar,
    telephone            varchar,
    country_code         varchar,
    xaccount_id          varchar,
    xaccount_type        varchar,
    account_managers     varchar,                -- account names, '; '-separated
    src_snapshot         varchar not null,       -- landing.api_snapshots.snapshot_path
    src_sha256           varchar not null,
    src_record           bigint not null,        -- position of the record in the snapshot (1-based)
    load_id              varchar not null
);
