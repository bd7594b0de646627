-- audit.findings: one row per validation finding on a loaded row (the row stays loaded).
create table if not exists audit.findings (
    load_id            varchar not null,
    source             varchar not null,
    object_key         varchar not null,
    member             varchar,
    bill_cycle         varchar,
    line_number        bigint,
    record_number      bigint,
    rule_id            varchar not null,
    severity           varchar not null,
    customer_id        varchar,
    reference          varchar,
    expected           decimal(38, 8),   -- sums of line amounts: wider than a line's DECIMAL(20, 8)
    actual             decimal(38, 8),
    difference_amount  decimal(38, 8),
    message            varchar not null
);
