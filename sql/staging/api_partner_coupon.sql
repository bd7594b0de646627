-- staging.api_partner_coupon: coupons the partner and its resellers issued, one copy per snapshot date.
-- grain: snapshot_date × coupon. Source: GET /v2/promotions/benefits/partner-coupons, per reseller scope.
create table if not exists staging.api_partner_coupon (
    snapshot_date        date not null,
    fetched_at           timestamptz not null,
    coupon_id            varchar not null,
    customer_id          varchar,
    indirect_partner_id  varchar,
    coupon_type          integer not null,
    status               integer not null,
    face_value           decimal(20, 8) not null,
    balance              decimal(20, 8),
    measure_id           integer,
    effective_time       timestamptz,
    expire_time          timestamptz,
    active_time          timestamptz,
    create_time          timestamptz,
    last_used_time       timestamptz,
    promotion_plan_id    varchar,
    promotion_plan_name  varchar,
    fetch_method         integer,
    order_id             varchar,
    is_frozen            boolean,
    src_snapshot         varchar not null,
    src_sha256           varchar not null,
    src_record           bigint not null,
    load_id              varchar not null
);
