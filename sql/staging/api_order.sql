-- staging.api_order: yearly/monthly orders paid in the bill cycle (GMT+8 month of payment_time).
-- grain: order; the child orders of a combined order are rows of their own with parent_order_id set
-- (sum rows with parent_order_id null for order totals). Source: GET /v2/orders/customer-orders, per reseller scope.
create table if not exists staging.api_order (
    bill_cycle             varchar not null,
    fetched_at             timestamptz not null,
    order_id               varchar not null,
    parent_order_id        varchar,
    customer_id            varchar not null,
    indirect_partner_id    varchar,
    service_type_code      varchar,
    service_type_name      varchar,
    source_type            integer,
    status                 integer,              -- 5 completed, 6 pending payment, ...
    order_type             integer,              -- 1 new, 2 renew, 3 change, 4 unsubscribe, ...
    official_amount        decimal(20, 8) not null,
    amount_after_discount  decimal(20, 8) not null,   -- excludes coupons and cards
    discount_amount        decimal(20, 8) not null,   -- Σ amount_info.discounts
    voucher_amount         decimal(20, 8),            -- amount_info.coupon_amount
    cash_coupon_amount     decimal(20, 8),            -- amount_info.flexipurchase_coupon_amount
    stored_card_amount     decimal(20, 8),
    commission_amount      decimal(20, 8),            -- unsubscribe orders: the unsubscription fee
    consumed_amount        decimal(20, 8),            -- unsubscribe orders
    discount_types         varchar,                   -- discount_type codes, sorted, ';'-separated (e.g. '605;700')
    measure_id             integer,
    currency               varchar,
    create_time            timestamptz,
    payment_time           timestamptz,
    contract_id            varchar,
    is_agent_pay           boolean,
    paying_agent_id        varchar,
    src_snapshot           varchar not null,
    src_sha256             varchar not null,
    src_record             bigint not null,
    load_id                varchar not null
);
