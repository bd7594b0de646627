-- staging.api_partner_credit: the partner's credit (the API's strings cast to DECIMAL), one reading per snapshot date.
-- grain: snapshot_date. Source: GET /v2/partners/credit/consumption-quota.
-- used_consumption_quota = due_amount + unbilled_amount − amount − coupon_amount (checked: API.CREDIT_IDENTITY).
create table if not exists staging.api_partner_credit (
    snapshot_date           date not null,
    fetched_at              timestamptz not null,
    consumption_quota       decimal(20, 8) not null,
    amount                  decimal(20, 8) not null,   -- account balance
    coupon_amount           decimal(20, 8) not null,
    due_amount              decimal(20, 8) not null,
    unbilled_amount         decimal(20, 8) not null,   -- estimated, not yet billed
    used_consumption_quota  decimal(20, 8) not null,
    measure_id              integer,
    currency                varchar,
    src_snapshot            varchar not null,
    src_sha256              varchar not null,
    src_record              bigint not null,
    load_id                 varchar not null
);
