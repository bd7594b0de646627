-- staging.api_order_discount: the discounts of each order (amount_info.discounts), for the discount audit.
-- grain: order × discount entry. Source: GET /v2/orders/customer-orders (the same pull as staging.api_order).
create table if not exists staging.api_order_discount (
    bill_cycle       varchar not null,
    fetched_at       timestamptz not null,
    order_id         varchar not null,
    customer_id      varchar,
    discount_seq     integer not null,           -- 1, 2, ... in the order's list
    -- code: 605 commercial contract, 607 partner-authorised, 609 price adjustment, ...
    discount_type    varchar not null,
    discount_amount  decimal(20, 8) not null,
    src_snapshot     varchar not null,
    src_sha256       varchar not null,
    src_record       bigint not null,
    load_id          varchar not null
);
