"""A request as the emulator's handlers see it: its parameters read and checked as the API checks
them, the page it asks for, and the route it was matched to. Problems are raised as `ApiError` and
become `{"error_code", "error_msg"}` bodies."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api_codes import Record
from ..api_data import ApiData

DEFAULT_LIMIT = 10
DEFAULT_MAX_LIMIT = 100          # the documented maximum where one is known, else 100 (docs/domain.md#paging)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message


def bad_parameter(message: str) -> ApiError:
    return ApiError(400, "CBC.0100", message)


@dataclass
class Call:
    """One request as the handlers see it."""

    route: Route
    path_params: dict[str, str]
    query: dict[str, str]                  # the last value of each query parameter
    body: dict[str, Any]
    domain_id: str
    max_limit: int | None
    total_shift: int = 0                   # the shifting-total fault adds this to the count field
    reseller_scoping: bool = True          # False: no indirect_partner_id means every customer

    @property
    def params(self) -> Mapping[str, Any]:
        """Where the operation's parameters live: the JSON body for POST, the query otherwise."""
        return self.body if self.route.method == "POST" else self.query

    def text(self, name: str) -> str | None:
        """A string parameter; absent, null and empty all mean "no filter"."""
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise bad_parameter(f"{name} must be a string")
        return str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise bad_parameter(f"{name} is required")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(r"-?\d+", value)):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise bad_parameter(f"{name} must be an integer") from None

    def strings(self, name: str) -> list[str] | None:
        value = self.params.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_parameter(f"{name} must be a list of strings")
        return value

    def month(self, name: str) -> str:
        value = self.required(name)
        if not _MONTH.match(value):
            raise bad_parameter(f"{name} must be YYYY-MM")
        return value

    def utc_time(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not _UTC_TIME.match(value):
            raise bad_parameter(f"{name} must be UTC time yyyy-MM-ddTHH:mm:ssZ")
        return value

    def paging(self, default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
        offset = self.integer("offset", 0)
        limit = self.integer("limit", default_limit)
        if offset < 0:
            raise bad_parameter("offset must not be negative")
        if limit < 1 or (self.max_limit is not None and limit > self.max_limit):
            raise bad_parameter(f"limit must be between 1 and {self.max_limit}")
        return offset, limit

    def page(self, records: list[Record], count_field: str, list_field: str,
             default_limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        offset, limit = self.paging(default_limit)
        return {count_field: len(records) + self.total_shift, list_field: records[offset:offset + limit]}


@dataclass(frozen=True)
class Route:
    name: str                       # the SDK method name
    method: str
    template: str                   # path with {placeholders}
    handler: Callable[[ApiData, Call], dict[str, Any]]
    paged: bool = True
    max_limit: int = DEFAULT_MAX_LIMIT
    pattern: re.Pattern = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/?$"))
