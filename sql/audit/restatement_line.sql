-- audit.restatement_line: what a re-delivered monthly bill file changed, line by line.
-- grain: one added, removed or changed bill line per restatement (bill_cycle × new delivery).
create table if not exists audit.restatement_line (
    bill_cycle            varchar not null,
    object_key            varchar not null,
    previous_etag         varchar not null,
    new_etag              varchar not null,
    restated_at           timestamptz not null,
    customer_id           varchar not null,
    bill_type             varchar not null,
    trade_id              varchar not null,
    resource_id           varchar,
    usage_type            varchar,
    trade_time            timestamptz,
    change                varchar not null,   -- added | removed | changed
    previous_amount_due   decimal(20, 8),
    new_amount_due        decimal(20, 8),
    amount_due_delta      decimal(20, 8) not null
);
