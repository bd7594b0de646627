-- audit.held_deliveries: a re-delivery that was read but not applied, because it would replace what a
-- month was built from with something that cannot be trusted (pipelines/lib/holds.py). The month keeps
-- the delivery it had; `billrecon accept` (or a newer delivery of the key) releases the hold.
-- grain: one held delivery (object key × ETag). Figures are what staging read from it and measured.
create table if not exists audit.held_deliveries (
    source              varchar not null,   -- customerBill | agreements | incentives
    object_key          varchar not null,
    etag                varchar not null,
    sha256              varchar not null,
    bill_cycle          varchar,            -- null for the agreement files, which every month reads
    replaces_etag       varchar not null,   -- the delivery the month keeps
    replaces_landed_at  timestamptz,
    rule_id             varchar not null,   -- HOLD.* in schemas/rules.py
    reason              varchar not null,   -- what it would do, in figures
    message             varchar not null,   -- the one line the run, the report and Dagster show
    rows_read           bigint not null,
    rows_loaded         bigint not null,    -- rows that passed validation (not applied)
    rows_quarantined    bigint not null,
    members_rejected    bigint not null,
    first_error         varchar,            -- the first rejected member or quarantined row, as staging said it
    measured            varchar not null,   -- JSON: the figures before and after that were compared
    held_at             timestamptz not null,
    released_at         timestamptz,
    released_by         varchar,            -- who accepted it, or the newer delivery that replaced it
    check (rows_read = rows_loaded + rows_quarantined)
);
