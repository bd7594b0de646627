-- materialized: view
-- core.current_customer: the partner's customers as the newest pull of the customers API lists them.
-- Empty until the BSS API has been pulled; the rules that need resale customers then count every
-- customer of the bill file as one (the partner bill file holds resale customers only).
-- grain: customer. Source: staging.api_customer (newest snapshot date).
with customers as (
    select * from staging.api_customer
),

newest as (
    select max(snapshot_date) as snapshot_date from customers
),

final as (
    select
        customers.customer_id,
        customers.customer_name,
        customers.account_name,
        customers.indirect_partner_id,
        customers.association,
        customers.association = 'resale' as is_resale,
        customers.is_frozen,
        customers.associated_on,
        customers.snapshot_date
    from customers
    join newest using (snapshot_date)
)

select * from final
