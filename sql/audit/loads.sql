-- audit.loads: one row per object member read by staging (member is null for a whole-object row).
-- Invariant: rows_read = rows_loaded + rows_quarantined.
create table if not exists audit.loads (
    load_id           varchar not null,
    source            varchar not null,   -- customerBill | customerUsage | agreements
    object_key        varchar not null,
    etag              varchar not null,
    sha256            varchar not null,
    member            varchar,
    bill_cycle        varchar,
    rows_read         bigint not null,
    rows_loaded       bigint not null,
    rows_quarantined  bigint not null,
    findings_count    bigint not null,
    status            varchar not null,   -- ok | warning | quarantined_rows | rejected | superseded
    first_error       varchar,
    loaded_at         timestamptz not null,
    check (rows_read = rows_loaded + rows_quarantined)
);
