-- materialized: table
-- marts.restatement: per re-delivery of a monthly bill file, what changed for each customer.
-- grain: bill_cycle × restatement (new delivery ETag) × customer. Source: audit.restatement_line.
with changes as (
    select * from audit.restatement_line
),

final as (
    select
        bill_cycle,
        object_key,
        previous_etag,
        new_etag,
        restated_at,
        customer_id,
        count(*) filter (where change = 'added') as lines_added,
        count(*) filter (where change = 'removed') as lines_removed,
        count(*) filter (where change = 'changed') as lines_changed,
        coalesce(sum(previous_amount_due), 0)::decimal(38, 8) as previous_amount_due,
        coalesce(sum(new_amount_due), 0)::decimal(38, 8) as new_amount_due,
        sum(amount_due_delta)::decimal(38, 8) as amount_due_delta
    from changes
    group by all
    order by bill_cycle, restated_at, customer_id
)

select * from final
