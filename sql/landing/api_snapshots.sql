-- landing.api_snapshots: one row per complete pull of a BSS API dataset, append-only.
-- grain: one pull (one immutable JSON file under <landing>/api/<dataset>/). Source: the BSS partner API.
-- The current snapshot of a dataset (and cycle) is its newest row; a pull that fails adds nothing.
create table if not exists landing.api_snapshots (
    -- relative to the landing folder: api/<dataset>/<fetched_at>_<sha>.json
    snapshot_path  varchar not null primary key,
    dataset        varchar not null,              -- customers, orders, partner_monthly_bill, ...
    route          varchar not null,              -- e.g. 'POST /v2/partners/sub-customers/query'
    bill_cycle     varchar,                       -- the cycle asked for; null for data pulled as of now
    snapshot_date  date not null,                 -- GMT+8 date of fetched_at (history tables are keyed by it)
    started_at     timestamptz not null,
    fetched_at     timestamptz not null,          -- when the last page arrived
    record_count   bigint not null,
    pages          bigint not null,
    requests       bigint not null,               -- HTTP requests, retries included
    retries        bigint not null,
    sha256         varchar not null,              -- of the file
    request        varchar not null,              -- JSON: parameters, scopes, page size (never credentials)
    load_id        varchar not null               -- the run that pulled it
);
