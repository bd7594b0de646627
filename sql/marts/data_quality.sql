-- materialized: table
-- marts.data_quality: what each source object (and member) delivered and what became of it.
-- grain: source object × member (member null for a whole-object row). Source: audit.loads, landing.objects.
with loads as (
    select * from audit.loads
),

objects as (
    select * from landing.objects
),

ignored as (
    select * from audit.ignored_objects
),

unioned as (
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

    union all

    select
        source,
        object_key,
        null as member,
        bill_cycle,
        0 as rows_read,
        0 as rows_loaded,
        0 as rows_quarantined,
        0 as findings_count,
        'ignored' as status,
        reason as first_error,
        null as landed_at,
        etag,
        null as sha256
    from ignored
),

final as (
    select * from unioned
    order by source, object_key, member nulls first
)

select * from final
