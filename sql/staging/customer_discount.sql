-- staging.customer_discount: the partner's customer discount agreements (docs/formats.md#customer-discounts).
-- grain: one agreement rule. Source: agreements/customer_discounts.csv (newest delivery).
create table if not exists staging.customer_discount (
    customer_id         varchar not null,
    service_type_code   varchar not null,
    resource_type_code  varchar not null,
    discount_rate       decimal(9, 6) not null,
    valid_from          date not null,
    valid_to            date,
    extra               varchar,
    src_object          varchar not null,
    src_record          bigint not null,
    src_sha256          varchar not null,
    load_id             varchar not null
);
