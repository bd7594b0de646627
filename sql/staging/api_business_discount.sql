-- staging.api_business_discount: the partner's framework commercial discount (latest pull replaces the table).
-- grain: quoting item (product or category). Source: POST /v2/promotions/business/discount-info, both item types.
create table if not exists staging.api_business_discount (
    fetched_at          timestamptz not null,
    commerce_id         varchar,
    commerce_code       varchar,
    quoting_item_type   varchar not null,        -- PRODUCT_ITEM | CATEGORY_ITEM
    item_id             varchar not null,
    service_type_code   varchar,
    service_type_name   varchar,
    resource_type_code  varchar,
    product_id          varchar,
    product_spec_name   varchar,
    charging_mode       varchar,                 -- ONDEMAND | MONTHLY | 1_YEARLY | ...
    site_code           varchar,
    region_code         varchar,                 -- product items: related regions, ';'-separated
    discount_ratio      decimal(20, 8),          -- share of the list price paid (0.9 = 10 % off)
    sales_price         decimal(20, 8),          -- fixed price instead of a ratio
    effective_time      timestamptz,
    expire_time         timestamptz,
    src_snapshot        varchar not null,
    src_sha256          varchar not null,
    src_record          bigint not null,
    load_id             varchar not null
);
