-- staging.bill_line: typed, validated partner bill lines (docs/formats.md#the-partner-bill-file), as delivered.
-- grain: one bill line. Source: customerBill/customerBill_YYYYMM.tar.gz, filled by pipelines/lib/staging.
-- Each text column names its compression: codes, names and lineage repeat (a dictionary), the line's own
-- ids do not (FSST). DuckDB would otherwise try every method on every segment of every load, which took
-- a sixth of the insert's CPU at ten million lines for the same choices (bench/README.md). Storage only:
-- the columns and their types are unchanged. sqlfluff cannot parse `using compression`.
-- noqa: disable=PRS
create table if not exists staging.bill_line (
    bill_cycle          varchar not null using compression dictionary,
    customer_id         varchar not null using compression dictionary,
    customer_name       varchar          using compression dictionary,
    account_name        varchar          using compression dictionary,
    partner_id          varchar          using compression dictionary,
    partner_name        varchar          using compression dictionary,
    bill_type           varchar not null using compression dictionary,
    billing_mode        smallint not null,
    service_type_code   varchar not null using compression dictionary,
    service_type_name   varchar          using compression dictionary,
    resource_type_code  varchar          using compression dictionary,
    resource_type_name  varchar          using compression dictionary,
    product_id          varchar          using compression dictionary,
    product_name        varchar          using compression dictionary,
    spec_desc           varchar          using compression dictionary,
    region_code         varchar          using compression dictionary,
    region_name         varchar          using compression dictionary,
    resource_id         varchar          using compression fsst,
    resource_name       varchar          using compression fsst,
    trade_id            varchar not null using compression fsst,
    original_order_id   varchar          using compression fsst,
    trade_time          timestamptz not null,
    trade_date_local    date not null,
    order_type          varchar          using compression dictionary,
    period_num          smallint,
    period_unit         varchar          using compression dictionary,
    is_spot             varchar          using compression dictionary,
    usage_type          varchar          using compression dictionary,
    usage_amount        decimal(28, 8),
    usage_unit          varchar          using compression dictionary,
    official_amount     decimal(20, 8) not null,
    discount_amount     decimal(20, 8) not null,
    discount_types      varchar          using compression dictionary,
    truncated_amount    decimal(20, 8),
    amount_due          decimal(20, 8) not null,
    cash_amount         decimal(20, 8),
    credit_amount       decimal(20, 8),
    cash_coupon_amount  decimal(20, 8),
    voucher_amount      decimal(20, 8),
    stored_card_amount  decimal(20, 8),
    debt_amount         decimal(20, 8),
    writeoff_amount     decimal(20, 8),
    extra               varchar          using compression dictionary,  -- unknown columns as delivered, JSON
    -- lineage
    src_object          varchar not null using compression dictionary,
    src_member          varchar not null using compression dictionary,
    src_record          bigint not null,
    src_sha256          varchar not null using compression dictionary,
    load_id             varchar not null using compression dictionary
);
