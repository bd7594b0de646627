-- materialized: view
-- core.bill_file_cycle: the closed bill cycles, those whose monthly bill file was delivered and could be
-- read (at least one member not rejected). A cycle without one (the open month, a late file) gets no
-- tie-out finding: there is nothing of the file's to compare yet.
-- grain: bill cycle. Source: audit.loads (source customerBill).
with loads as (
    select * from audit.loads where source = 'customerBill'
),

final as (
    select
        bill_cycle,
        min(object_key) as object_key,
        min(etag) as etag,
        max(loaded_at) as loaded_at,
        sum(rows_loaded) as rows_loaded
    from loads
    where status <> 'rejected'
    group by bill_cycle
)

select * from final
