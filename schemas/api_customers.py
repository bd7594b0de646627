"""pandera models of the partner's customers and resellers as the BSS API lists them
(docs/domain.md#the-reseller-model)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.api_common import UTC_TIME, ApiRecord, CustomerScoped, SnapshotRecord

# association_type: 1 referral on both sites; resale is 3 on the international site and 2 on China's
ASSOCIATION_OF_CODE = {"1": "referral", "2": "resale", "3": "resale"}


class ApiCustomerModel(SnapshotRecord, CustomerScoped):
    """staging.api_customer: one customer per snapshot date."""

    account_name: str = pa.Field(nullable=True)
    customer_name: str = pa.Field(nullable=True)
    association_type: str = pa.Field(nullable=True, isin=sorted(ASSOCIATION_OF_CODE))
    association: str = pa.Field(nullable=True, isin=sorted(set(ASSOCIATION_OF_CODE.values())))
    associated_on: UTC_TIME = pa.Field(nullable=True)
    is_frozen: pl.Boolean = pa.Field(nullable=True)
    verified_status: pl.Int64 = pa.Field(nullable=True)
    customer_type: pl.Int64 = pa.Field(nullable=True)
    customer_level: str = pa.Field(nullable=True)
    label: str = pa.Field(nullable=True)
    email: str = pa.Field(nullable=True)
    telephone: str = pa.Field(nullable=True)
    country_code: str = pa.Field(nullable=True)
    xaccount_id: str = pa.Field(nullable=True)
    xaccount_type: str = pa.Field(nullable=True)
    account_managers: str = pa.Field(nullable=True)


class ApiIndirectPartnerModel(ApiRecord):
    """staging.api_indirect_partner: one reseller of the distributor (latest pull)."""

    indirect_partner_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 64})
    account_name: str = pa.Field(nullable=True)
    name: str = pa.Field(nullable=True)
    associated_on: UTC_TIME = pa.Field(nullable=True)
    account_manager_id: str = pa.Field(nullable=True)
    account_manager_name: str = pa.Field(nullable=True)
    email: str = pa.Field(nullable=True)
    mobile_phone: str = pa.Field(nullable=True)
