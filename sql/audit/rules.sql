-- audit.rules: the rules catalogue of the release that built the warehouse (schemas/rules.py), one row
-- per rule id that audit.findings, audit.quarantine, audit.held_deliveries and
-- marts.reconciliation_findings name. Rewritten whole in the transaction of each model that reads it
-- (pipelines/lib/sql_models.py CODE_TABLES), so a run that reconciles leaves its release's catalogue.
create table if not exists audit.rules (
    rule_id   varchar not null,
    area      varchar not null,   -- where its rows are found: file, api, delivery, or a reconciliation area
    severity  varchar not null,   -- reject (the row is quarantined), error, warning or info
    title     varchar not null,
    action    varchar not null    -- what the reader should do about it
);
