-- staging.usage_line: the newest daily usage export of each open month (docs/formats.md#daily-usage-exports).
-- grain: one usage line of the current export. Source: customerUsage/customerUsageV2_YYYYMM_YYYYMMDD.tar.gz.
create table if not exists staging.usage_line (
    bill_cycle          varchar not null,
    export_date         date not null,
    customer_id         varchar not null,
    trade_time          timestamptz not null,
    trade_date_local    date not null,
    billing_mode        smallint not null,
    service_type_code   varchar not null,
    resource_type_code  varchar,
    region_code         varchar,
    resource_id         varchar,
    usage_type          varchar,
    usage_amount        decimal(28, 8),
    usage_unit          varchar,
    official_amount     decimal(20, 8) not null,
    discount_amount     decimal(20, 8) not null,
    amount_due          decimal(20, 8) not null,
    extra               varchar,
    src_object          varchar not null,
    src_member          varchar not null,
    src_record          bigint not null,
    src_sha256          varchar not null,
    load_id             varchar not null
);
