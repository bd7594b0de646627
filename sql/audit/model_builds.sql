-- audit.model_builds: the inputs each heavy model of a bill cycle was last built from.
-- grain: model × bill cycle. A run whose inputs have the same fingerprint (code, and the content
-- identity of the loads the model reads) skips the rebuild and reports what the last build measured.
create table if not exists audit.model_builds (
    model        varchar not null,
    bill_cycle   varchar not null,
    fingerprint  varchar not null,
    metadata     varchar not null,   -- JSON: what the build reported (row counts, totals)
    built_at     timestamptz not null
);
