-- staging.api_customer_monthly_sum: each customer's monthly sums.
-- grain: bill_cycle × customer × service type × resource type × bill type × charge mode.
-- Source: GET /v2/bills/partner-bills/subcustomer-bills/monthly-sum?cycle=YYYY-MM, per reseller scope.
-- Σ amount of a customer over all rows = the customer's total amount due in the bill file.
create table if not exists staging.api_customer_monthly_sum (
    bill_cycle           varchar not null,
    fetched_at           timestamptz not null,
    customer_id          varchar not null,
    indirect_partner_id  varchar,
    service_type_code    varchar,
    service_type_name    varchar,
    resource_type_code   varchar,
    resource_type_name   varchar,
    bill_type            varchar not null,       -- 0 consumption, 1 unsubscribe, 2 HUAWEI CLOUD write-off
    bill_type_name       varchar not null,       -- Expenditure | Refund | Adjustment (as in staging.bill_line)
    -- 1 yearly/monthly, 3 pay-per-use, 10 reserved instance, 11 savings plan
    charge_mode          varchar,
    amount               decimal(20, 8) not null,   -- negative for bill types 1 and 2
    debt_amount          decimal(20, 8),
    adjustment_amount    decimal(20, 8),            -- written off
    discount_amount      decimal(20, 8),
    cash_amount          decimal(20, 8) not null,   -- account_details BALANCE_TYPE_DEBIT
    credit_amount        decimal(20, 8) not null,   -- BALANCE_TYPE_CREDIT
    bonus_amount         decimal(20, 8) not null,   -- BALANCE_TYPE_BONUS
    voucher_amount       decimal(20, 8) not null,   -- BALANCE_TYPE_COUPON
    cash_coupon_amount   decimal(20, 8) not null,   -- BALANCE_TYPE_RCASH_COUPON
    stored_card_amount   decimal(20, 8) not null,   -- BALANCE_TYPE_STORED_VALUE_CARD
    account_details      varchar,                   -- the account_details list as delivered, JSON
    measure_id           integer,
    currency             varchar,
    src_snapshot         varchar not null,
    src_sha256           varchar not null,
    src_record           bigint not null,
    load_id              varchar not null
);
