-- staging.incentive_statement: HUAWEI CLOUD's monthly incentive statement as finance exported it
-- (docs/formats.md#incentive-statement).
-- grain: one statement line. Source: incentives/incentive_statement_YYYYMM.csv (newest delivery of each period);
-- a line of another period than the file's is quarantined (STATEMENT.PERIOD_MISMATCH).
create table if not exists staging.incentive_statement (
    statement_id        varchar not null,
    period              varchar not null,        -- YYYY-MM, the month the statement reconciles
    incentive_type      varchar not null,        -- e.g. 'Monthly rebate'
    service_type_code   varchar,                 -- null: all products
    customer_id         varchar,                 -- null: a partner-level line
    performance_amount  decimal(20, 8),
    incentive_rate      decimal(9, 6),
    incentive_amount    decimal(20, 8),
    status              varchar,                 -- Pending confirmation | Confirmed | Rejected | Frozen | Paid
    extra               varchar,                 -- unknown columns as delivered, JSON
    src_object          varchar not null,
    src_record          bigint not null,
    src_sha256          varchar not null,
    load_id             varchar not null
);
