"""pandera models of the BSS reference data: service types, resource types, measurement units (docs/domain.md)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.api_common import ApiRecord


class ApiServiceTypeModel(ApiRecord):
    """staging.api_service_type: one cloud service type."""

    service_type_code: str = pa.Field(nullable=False, str_length={"min_value": 1})
    service_type_name: str = pa.Field(nullable=True)
    abbreviation: str = pa.Field(nullable=True)


class ApiResourceTypeModel(ApiRecord):
    """staging.api_resource_type: one resource type."""

    resource_type_code: str = pa.Field(nullable=False, str_length={"min_value": 1})
    resource_type_name: str = pa.Field(nullable=True)
    resource_type_desc: str = pa.Field(nullable=True)
    service_type_code: str = pa.Field(nullable=True)


class ApiMeasureUnitModel(ApiRecord):
    """staging.api_measure_unit: one measurement unit."""

    measure_id: pl.Int64 = pa.Field(nullable=False)
    measure_name: str = pa.Field(nullable=True)
    abbreviation: str = pa.Field(nullable=True)
    measure_type: pl.Int64 = pa.Field(nullable=True)
