-- audit.ignored_objects: objects in a source folder that are not loaded, and why (a copy of a monthly
-- file under another key, a name that does not follow the delivery pattern). Replaced per cycle by landing.
create table if not exists audit.ignored_objects (
    source       varchar not null,
    object_key   varchar not null,
    etag         varchar not null,
    size_bytes   bigint not null,
    bill_cycle   varchar,
    reason       varchar not null
);
