-- materialized: partition
-- core.rated_bill_line: every bill line of the cycle with the customer's agreed discount applied,
-- stored once per run: the rating of core.bill_line_rating (where its rules are explained) cost more
-- than any reader of the rated lines, and the expenditure mart, marts.customer_bill_line, the FOCUS
-- views and the month-close pack all read them.
-- grain: one bill line. Source: core.bill_line_rating.
with rating as (
    select * from core.bill_line_rating where bill_cycle = $bill_cycle
),

final as (
    select * from rating
)

select * from final
