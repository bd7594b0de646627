-- staging.incentive_rate: the partner programme's rebate rates (docs/formats.md#incentive-rates).
-- grain: incentive type × policy code × validity. Source: agreements/incentive_rates.csv (newest delivery).
create table if not exists staging.incentive_rate (
    incentive_type  varchar not null,
    policy_code     smallint not null,           -- incentive_policy of the incentive-discount-policy API: 0, 1, 2, 13
    rate            decimal(9, 6) not null,
    valid_from      date not null,
    valid_to        date,                        -- null: open
    extra           varchar,
    src_object      varchar not null,
    src_record      bigint not null,
    src_sha256      varchar not null,
    load_id         varchar not null
);
