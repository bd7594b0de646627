-- staging.api_incentive_policy: the incentive and discount policy of each service type in force at
-- 23:59:59 GMT+8 on the last day of the cycle.
-- grain: bill_cycle × service type. Source: GET /v2/products/incentive-discount-policies?time=YYYY-MM.
create table if not exists staging.api_incentive_policy (
    bill_cycle         varchar not null,
    fetched_at         timestamptz not null,
    service_type_code  varchar not null,
    service_type_name  varchar,
    -- 0 non-specific, 1 specific, 2 no performance/no rebate, 13 performance without rebate
    incentive_policy   integer,
    allow_discount     boolean,     -- may a partner-granted discount apply
    src_snapshot       varchar not null,
    src_sha256         varchar not null,
    src_record         bigint not null,
    load_id            varchar not null
);
