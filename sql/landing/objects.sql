-- landing.objects: one row per version of a source object (key + ETag), never removed. landed_at is when
-- the version last arrived: one delivered again after another version lands again (the current one).
-- grain: object key × etag. Source: OBS bucket (S3 API) or the local inbox.
create table if not exists landing.objects (
    object_key     varchar not null,
    etag           varchar not null,
    size_bytes     bigint not null,
    sha256         varchar not null,
    last_modified  timestamptz,
    landed_at      timestamptz not null,
    local_path     varchar not null,   -- content-addressed copy, relative to the landing folder
    source_uri     varchar not null,   -- s3://bucket or file://inbox, for lineage
    primary key (object_key, etag)
);
