"""The account's site decides the official SDK of each BSS call: the request class of every call billrecon
makes, imported from both SDKs, takes the fields billrecon sends on either site, and where both SDKs model
a call their response models carry the same fields (billrecon reads the raw JSON by those names)."""

from __future__ import annotations

import importlib
import re

import pytest

from pipelines.lib.bss.client import _CLIENT_CLASSES, _SDK_PACKAGES, Operation
from pipelines.lib.bss.datasets import BUDGET_BATCH, DATASETS, QUOTING_ITEM_LISTS, ApiDataset

# the calls the China SDK (huaweicloudsdkbss 3.1.219) does not model: a China-site account keeps the
# international request class, on its own endpoint
INTL_ONLY = {"budgets", "partner_monthly_bill", "partner_credit", "invoices"}
# the calls only the China SDK models with the fields billrecon sends: every account uses it
CN_ALWAYS = {"coupons", "partner_coupons", "customer_monthly_sums", "incentive_policies", "business_discounts"}


def models(sdk: str):
    return importlib.import_module(_SDK_PACKAGES[sdk])


def sent_fields(dataset: ApiDataset) -> set[str]:
    """The request fields billrecon sets on the dataset's call (pipelines/lib/bss/datasets.py)."""
    sent = set(dataset.params("2026-10") if dataset.bound_to == "cycle" else dataset.params(None))
    if dataset.count_field is not None:
        sent |= {"offset", "limit"}
    if dataset.scoped:
        sent.add("indirect_partner_id")
    if dataset.name == "budgets":
        sent.add("customer_ids")
    if dataset.name == "business_discounts":
        sent.add("quoting_item_type")
    return sent


def request_fields(operation: Operation, sdk: str) -> set[str]:
    package = models(sdk)
    request = getattr(package, operation.request_class)
    if operation.body_class is None:
        return set(request.openapi_types)
    return set(getattr(package, operation.body_class).openapi_types)


def response_fields(package, class_name: str, depth: int = 0) -> dict:
    """The response model's fields and types, nested models expanded (two levels: lists of records)."""
    fields = {}
    for name, kind in getattr(package, class_name).openapi_types.items():
        inner = re.fullmatch(r"(?:list\[)?(\w+)\]?", kind).group(1)
        nested = depth < 2 and inner[0].isupper() and hasattr(package, inner)
        fields[name] = response_fields(package, inner, depth + 1) if nested else kind
    return fields


def test_a_china_site_account_uses_the_china_sdk_wherever_it_models_the_call():
    chosen = {name: (d.operation.sdk_on("intl"), d.operation.sdk_on("cn")) for name, d in DATASETS.items()}
    assert {name for name, (_, cn) in chosen.items() if cn == "intl"} == INTL_ONLY
    assert {name for name, (intl, _) in chosen.items() if intl == "cn"} == CN_ALWAYS
    for name in INTL_ONLY:
        operation = DATASETS[name].operation
        assert not hasattr(models("cn").BssClient, operation.method)
        assert not hasattr(models("cn"), operation.request_class)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_calls_request_class_takes_what_billrecon_sends_on_both_sites(name):
    dataset = DATASETS[name]
    for site in ("intl", "cn"):
        sdk = dataset.operation.sdk_on(site)
        assert hasattr(getattr(models(sdk), _CLIENT_CLASSES[sdk]), dataset.operation.method)
        assert sent_fields(dataset) <= request_fields(dataset.operation, sdk), (site, sdk)
        # and the request builds, with every field billrecon may send
        values = {field: "x" for field in sent_fields(dataset)}
        values.update({"offset": 0, "limit": 10} if "offset" in values else {})
        values.update({"customer_ids": ["c"] * BUDGET_BATCH} if "customer_ids" in values else {})
        values.update({"quoting_item_type": next(iter(QUOTING_ITEM_LISTS))} if "quoting_item_type" in values else {})
        assert dataset.operation.build_request(values, sdk) is not None


@pytest.mark.parametrize("name", sorted(set(DATASETS) - INTL_ONLY - CN_ALWAYS))
def test_calls_both_sdks_model_have_the_same_request_and_response_fields(name):
    operation = DATASETS[name].operation
    assert request_fields(operation, "intl") == request_fields(operation, "cn")
    response = operation.request_class.removesuffix("Request") + "Response"
    intl, cn = response_fields(models("intl"), response), response_fields(models("cn"), response)
    assert intl == cn
    assert len(intl) >= 1
