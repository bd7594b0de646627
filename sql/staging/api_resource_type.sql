-- staging.api_resource_type: BSS reference data, replaced by its latest pull.
-- grain: resource type. Source: GET /v2/products/resource-types.
create table if not exists staging.api_resource_type (
    fetched_at          timestamptz not null,
    resource_type_code  varchar not null,
    resource_type_name  varchar,
    resource_type_desc  varchar,
    service_type_code   varchar,
    src_snapshot        varchar not null,
    src_sha256          varchar not null,
    src_record          bigint not null,
    load_id             varchar not null
);
