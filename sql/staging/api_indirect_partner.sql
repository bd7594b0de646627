-- staging.api_indirect_partner: the distributor's resellers (latest pull replaces the table).
-- grain: reseller. Source: POST /v2/partners/indirect-partners/query.
create table if not exists staging.api_indirect_partner (
    fetched_at            timestamptz not null,
    indirect_partner_id   varchar not null,
    account_name          varchar,
    name                  varchar,
    associated_on         timestamptz,
    account_manager_id    varchar,
    account_manager_name  varchar,
    email                 varchar,
    mobile_phone          varchar,
    src_snapshot          varchar not null,
    src_sha256            varchar not null,
    src_record            bigint not null,
    load_id               varchar not null
);
