-- audit.quarantine: one row per rejected source row (or per rejected member/object, line_number null).
create table if not exists audit.quarantine (
    load_id        varchar not null,
    source         varchar not null,
    object_key     varchar not null,
    member         varchar,
    bill_cycle     varchar,
    line_number    bigint,    -- physical line in the member where the record starts (header = line 1)
    record_number  bigint,    -- data record ordinal (1 = first row after the header)
    rule_id        varchar not null,
    reason         varchar not null,
    raw_record     varchar    -- the fields as delivered, JSON
);
