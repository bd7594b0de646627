-- materialized: table
-- marts.data_quality: what each source object (and member) delivered and what became of it.
-- grain: source object × member (member null for a whole-object row). Source: audit.loads, landing.objects.
with loads as (
    select * from audit.loads
),

objects as (
    select * from landing.objects
),

final as (
    select
        loads.source,
        loads.object_key,
        loads.member,
        loads.bill_cycle,
        loads.rows_read,
        loads.rows_loaded,
        loads.rows_quarantined,
        loads.findings_count,
        loads.status,
        loads.first_error,
        objects.landed_at,
        loads.etag,
        loads.sha256
    from loads
    left join objects using (object_key, etag)
    order by loads.source, loads.object_key, loads.member nulls first
)

select * from final
