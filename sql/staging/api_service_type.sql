-- staging.api_service_type: BSS reference data, replaced by its latest pull.
-- grain: service type. Source: GET /v2/products/service-types.
create table if not exists staging.api_service_type (
    fetched_at         timestamptz not null,
    service_type_code  varchar not null,
    service_type_name  varchar,
    abbreviation       varchar,
    src_snapshot       varchar not null,
    src_sha256         varchar not null,
    src_record         bigint not null,
    load_id            varchar not null
);
