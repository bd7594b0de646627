-- staging.api_measure_unit: BSS reference data, replaced by its latest pull.
-- grain: measurement unit. Source: GET /v2/bases/measurements.
create table if not exists staging.api_measure_unit (
    fetched_at    timestamptz not null,
    measure_id    integer not null,
    measure_name  varchar,
    abbreviation  varchar,
    measure_type  integer,
    src_snapshot  varchar not null,
    src_sha256    varchar not null,
    src_record    bigint not null,
    load_id       varchar not null
);
