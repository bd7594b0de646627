"""Paging to the end, restarting when the list changes under the pull, and pulling scoped datasets
once per reseller, with fakes of the API call."""

from __future__ import annotations

import pytest

from pipelines.lib.bss.datasets import CUSTOMERS, DATASETS, INVOICES, ORDERS, SCOPE_FIELD, Puller, cycle_window_utc
from pipelines.lib.bss.errors import InconsistentPages
from pipelines.lib.bss.paging import fetch_all_pages
from schemas.bill_cycle import BillCycle

ROUTE = "POST /v2/partners/sub-customers/query"


class ListServer:
    """A list served in pages; `grow_on` lists page numbers (1-based, counted over all requests)
    after which one record is added, as if a customer associated while the pull pages."""

    def __init__(self, size: int, grow_on: set[int] = frozenset(), count_field: str = "count"):
        self.rows = [{"id": i} for i in range(size)]
        self.grow_on = grow_on
        self.count_field = count_field
        self.requests: list[tuple[int, int]] = []

    def page(self, offset: int, limit: int) -> dict:
        self.requests.append((offset, limit))
        answer = {self.count_field: len(self.rows), "items": self.rows[offset:offset + limit]}
        if len(self.requests) in self.grow_on:
            self.rows.append({"id": len(self.rows)})
        return answer


def test_every_page_is_read_to_the_end():
    server = ListServer(25)
    paged = fetch_all_pages(server.page, route=ROUTE, list_field="items", count_field="count", page_size=10)
    assert [r["id"] for r in paged.records] == list(range(25))
    assert server.requests == [(0, 10), (10, 10), (20, 10)]
    assert (paged.total, paged.pages, paged.restarts) == (25, 3, 0)


def test_a_total_that_changes_between_pages_restarts_the_pull_from_the_first_page():
    server = ListServer(25, grow_on={1})      # a record arrives right after the first page
    restarts = []
    paged = fetch_all_pages(server.page, route=ROUTE, list_field="items", count_field="count", page_size=10,
                            on_restart=restarts.append)
    assert [r["id"] for r in paged.records] == list(range(26))
    assert paged.restarts == 1 and restarts == ["the total changed from 25 to 26 between pages"]
    assert server.requests[2] == (0, 10)      # the second pull starts over


def test_a_list_that_never_holds_still_fails_and_keeps_nothing():
    server = ListServer(25, grow_on=set(range(1, 100)))
    with pytest.raises(InconsistentPages) as failed:
        fetch_all_pages(server.page, route=ROUTE, list_field="items", count_field="count", page_size=10,
                        max_restarts=2)
    assert str(failed.value).startswith(f"{ROUTE}: the list kept changing while it was paged (the total changed")
    assert "tried 3 times and kept nothing" in str(failed.value)
    assert len(server.requests) == 6          # two pages per attempt, three attempts


def test_an_empty_page_before_the_total_is_reached_restarts():
    answers = iter([{"count": 15, "items": [{"id": i} for i in range(10)]}, {"count": 15, "items": []},
                    {"count": 15, "items": [{"id": i} for i in range(10)]},
                    {"count": 15, "items": [{"id": i} for i in range(10, 15)]}])
    paged = fetch_all_pages(lambda offset, limit: next(answers), route=ROUTE, list_field="items",
                            count_field="count", page_size=10)
    assert len(paged.records) == 15 and paged.restarts == 1


def test_page_number_paging_counts_pages_from_one():
    rows = [{"id": i} for i in range(7)]
    seen = []

    def page(number: int, limit: int) -> dict:
        seen.append(number)
        return {"count": 7, "invoices": rows[(number - 1) * limit:number * limit]}

    paged = fetch_all_pages(page, route=INVOICES.route, list_field="invoices", count_field="count", page_size=3,
                            style="page_number")
    assert seen == [1, 2, 3] and len(paged.records) == 7


class FakeApi:
    """Answers list calls from per-scope data: {operation method: {scope: [records]}}."""

    def __init__(self, data: dict):
        self.data = data
        self.calls: list[tuple[str, dict]] = []

    def call(self, operation, params=None):
        params = dict(params or {})
        self.calls.append((operation.method, params))
        scope = params.get("indirect_partner_id")
        if operation.method == "list_indirect_partners":
            records = [{"indirect_partner_id": r} for r in ("r2", "r1")]
            return {"count": 2, "indirect_partners": records[params["offset"]:params["offset"] + params["limit"]]}
        if operation.method == "list_sub_customer_budget":
            return {"measure_id": 1, "currency": "USD",
                    "budget_infos": [{"customer_id": c, "budget_amount": "10"} for c in params["customer_ids"]]}
        records = self.data[operation.method].get(scope, [])
        page = records[params["offset"]:params["offset"] + params["limit"]]
        return {"count": len(records), "total_count": len(records), "customer_infos": page, "order_infos": page}


def test_scoped_datasets_are_pulled_for_the_partner_and_each_reseller_and_keep_their_scope():
    customers = {None: [{"customer_id": f"own{i}"} for i in range(5)], "r1": [{"customer_id": "a"}],
                 "r2": [{"customer_id": f"b{i}"} for i in range(3)]}
    api = FakeApi({"list_sub_customers": customers})
    pulled = Puller(api, page_size=2).pull(CUSTOMERS)
    assert pulled.request["scopes"] == [None, "r1", "r2"]
    assert [(r["customer_id"], r[SCOPE_FIELD]) for r in pulled.records] == (
        [(f"own{i}", None) for i in range(5)] + [("a", "r1")] + [(f"b{i}", "r2") for i in range(3)])
    own_calls = [p for m, p in api.calls if m == "list_sub_customers" and "indirect_partner_id" not in p]
    assert [(p["offset"], p["limit"]) for p in own_calls] == [(0, 2), (2, 2), (4, 2)]


def test_budgets_are_asked_for_the_listed_customers_in_batches_of_at_most_100():
    customers = {None: [{"customer_id": f"c{i:03d}"} for i in range(150)], "r1": [], "r2": [{"customer_id": "x"}]}
    api = FakeApi({"list_sub_customers": customers})
    pulled = Puller(api).pull(DATASETS["budgets"])
    batches = [p["customer_ids"] for m, p in api.calls if m == "list_sub_customer_budget"]
    assert [len(b) for b in batches] == [100, 50, 1]
    assert len(pulled.records) == 151
    assert pulled.records[0]["measure_id"] == 1 and pulled.records[0]["currency"] == "USD"
    assert pulled.records[-1][SCOPE_FIELD] == "r2"


def test_orders_of_a_cycle_are_those_paid_in_its_gmt8_month():
    assert cycle_window_utc(BillCycle(2026, 9)) == ("2026-08-31T16:00:00Z", "2026-09-30T15:59:59Z")
    assert cycle_window_utc(BillCycle(2026, 12)) == ("2026-11-30T16:00:00Z", "2026-12-31T15:59:59Z")
    params = ORDERS.params("2026-12")
    assert params["payment_time_begin"] == "2026-11-30T16:00:00Z" and params["order_by"] == "createTime"
