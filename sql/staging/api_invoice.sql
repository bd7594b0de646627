-- staging.api_invoice: HUAWEI CLOUD's invoices to the partner (latest pull replaces the table).
-- grain: invoice request. Source: GET /v1.0/{domain_id}/payments/intl-invoices.
create table if not exists staging.api_invoice (
    fetched_at      timestamptz not null,
    request_id      varchar not null,
    invoice_no      varchar,
    bill_cycle      varchar,                 -- the invoice's own billCycle
    invoice_amount  decimal(20, 8),
    tax_amount      decimal(20, 8),          -- Σ taxList.taxAmount
    invoice_state   integer,                 -- 8 completed, 9 returned, ...
    invoice_method  integer,                 -- 0 by billing cycle, 1 on receipt, 2 per order
    invoice_type    integer,
    trade_type      integer,                 -- 6 BP monthly settlement, 7 top-up, ...
    request_mode    varchar,                 -- 0 issue, 1 return, ...
    src_request_id  varchar,
    apply_time      timestamptz,
    tax_list        varchar,                 -- taxList as delivered, JSON
    src_snapshot    varchar not null,
    src_sha256      varchar not null,
    src_record      bigint not null,
    load_id         varchar not null
);
