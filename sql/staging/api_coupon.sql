-- staging.api_coupon: coupons held by the partner's customers, one copy per snapshot date.
-- grain: snapshot_date × coupon. Source: GET /v2/promotions/benefits/coupons, per reseller scope.
create table if not exists staging.api_coupon (
    snapshot_date        date not null,
    fetched_at           timestamptz not null,
    coupon_id            varchar not null,
    coupon_code          varchar,
    customer_id          varchar,
    indirect_partner_id  varchar,
    coupon_type          integer not null,       -- 1 voucher, 2 discount coupon, 3 product coupon, 4 cash coupon
    status               integer not null,       -- 1 inactive, 2 usable, 3 used, 4 expired, 5 reclaimed
    face_value           decimal(20, 8) not null,
    balance              decimal(20, 8),
    measure_id           integer,
    currency             varchar,
    coupon_version       integer,
    valid_time           timestamptz,
    expire_time          timestamptz,
    active_time          timestamptz,
    create_time          timestamptz,
    source_id            varchar,                -- issuing partner; null = issued by HUAWEI CLOUD
    promotion_plan_id    varchar,
    plan_name            varchar,
    fetch_method         integer,
    order_id             varchar,
    is_frozen            boolean,
    src_snapshot         varchar not null,
    src_sha256           varchar not null,
    src_record           bigint not null,
    load_id              varchar not null
);
