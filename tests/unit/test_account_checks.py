"""The account's site and currency against its deliveries: a bill file whose headers are in the other
site's language is loaded whole with one warning; amounts in another currency than the account's (the
English headers name it, the API's records carry it) are one error; the BILLRECON_* settings' one account
reads either language silently, as before."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pipelines.lib.bss.datasets import DATASETS, Pulled
from pipelines.lib.bss.snapshots import save_snapshot
from pipelines.lib.bss.staging import stage_snapshot
from pipelines.lib.landing import Delivery
from pipelines.lib.partners import FileSource, Partner, partner_from_settings
from pipelines.lib.staging import MemberLimits, stage_bill_delivery
from pipelines.lib.staging.account import HeaderFacts, account_findings, header_facts
from pipelines.lib.warehouse import transaction
from schemas.aliases import BILL_LINE_HEADERS
from tests.fixtures.bill_files import good_row, member_csv, write_archive

CYCLE = "2026-09"
INTL = Partner("acme-intl", "ACME (international)", "intl", "USD", FileSource(inbox="inbox"))
CHINA = Partner("acme-cn", "ACME (China)", "cn", "CNY", FileSource(inbox="inbox"))


def stage_bill(con, tmp_path, language: str, account: Partner | None, rows: int = 3, encoding: str = "utf-8"):
    members = {f"customerBill_202609_000{n}.csv": member_csv([good_row(trade_id=f"T{n}-{i}") for i in range(rows)],
                                                             language).decode("utf-8").encode(encoding)
               for n in (1, 2)}
    archive = write_archive(tmp_path / "customerBill_202609.tar.gz", members)
    delivery = Delivery("customerBill/customerBill_202609.tar.gz", "etag-1", archive.stat().st_size, "sha-1",
                        archive, datetime(2026, 10, 5, tzinfo=UTC), newly_landed=True)
    with transaction(con):
        return stage_bill_delivery(con, delivery, CYCLE, "load-1", MemberLimits(), account)


def findings(con) -> list[tuple]:
    return con.execute("select source, member, line_number, rule_id, severity, message from audit.findings "
                       "order by rule_id").fetchall()


def test_what_a_header_row_says_of_its_language_and_currency():
    english = [spellings[0] for spellings in BILL_LINE_HEADERS.values()]
    chinese = [spellings[1] for spellings in BILL_LINE_HEADERS.values()]
    assert header_facts(english, BILL_LINE_HEADERS) == HeaderFacts("en", "USD")
    assert header_facts(chinese, BILL_LINE_HEADERS) == HeaderFacts("zh", None)
    assert header_facts(list(BILL_LINE_HEADERS), BILL_LINE_HEADERS) == HeaderFacts(None, None)  # canonical names
    assert header_facts([" \ufeffbilling cycle ", "客户ID", "Customer Name", "Amount Due (USD)"],
                        BILL_LINE_HEADERS) == HeaderFacts("en", "USD")


def test_a_file_in_the_other_sites_language_is_loaded_whole_with_one_warning(con, tmp_path):
    outcome = stage_bill(con, tmp_path, "zh", INTL)
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (6, 6, 0)
    assert con.execute("select count(*) from staging.bill_line").fetchone() == (6,)
    assert findings(con) == [(
        "customerBill", "customerBill_202609_0001.csv", 1, "FILE.HEADER_LANGUAGE", "warning",
        "the headers are Chinese, but account acme-intl is on site intl, whose files have English headers; the rows "
        "are loaded: check the account's site in partners.toml (cn: Chinese headers and the China SDK; intl: "
        "English)")]
    # counted where the data quality table reads it: on the first member's audit.loads row
    assert con.execute("select member, findings_count, status from audit.loads order by member").fetchall() == [
        ("customerBill_202609_0001.csv", 1, "warning"), ("customerBill_202609_0002.csv", 0, "ok")]


def test_a_gbk_export_in_chinese_for_an_international_account_gets_the_same_warning(con, tmp_path):
    outcome = stage_bill(con, tmp_path, "zh", INTL, encoding="gb18030")
    assert outcome.rows_loaded == 6
    assert [(member, rule_id) for _, member, _, rule_id, _, _ in findings(con)] == [
        ("customerBill_202609_0001.csv", "FILE.HEADER_LANGUAGE")]


def test_amounts_in_another_currency_than_the_accounts_are_one_error(con, tmp_path):
    stage_bill(con, tmp_path, "en", CHINA)
    assert [(rule_id, severity) for _, _, _, rule_id, severity, _ in findings(con)] == [
        ("FILE.CURRENCY", "error"), ("FILE.HEADER_LANGUAGE", "warning")]
    assert findings(con)[0][5].startswith("the amounts are in USD (the headers say so), but account acme-cn is "
                                          "billed in CNY: check the account's currency in partners.toml")
    assert con.execute("select count(*) from staging.bill_line").fetchone() == (6,)


@pytest.mark.parametrize("language, account", [("en", INTL), ("zh", CHINA), ("zh", partner_from_settings({})),
                                               ("en", partner_from_settings({})), ("zh", None)])
def test_headers_as_the_site_delivers_them_or_an_account_without_a_site_give_no_finding(con, tmp_path, language,
                                                                                         account):
    outcome = stage_bill(con, tmp_path, language, account)
    assert outcome.rows_loaded == 6 and outcome.findings_count == 0
    assert findings(con) == []


def test_the_settings_account_still_has_its_currency_checked():
    assert [f.rule_id for f in account_findings(HeaderFacts("zh", None), partner_from_settings({}))] == []
    assert [f.rule_id for f in account_findings(HeaderFacts("en", "CNY"), partner_from_settings({}))] == [
        "FILE.CURRENCY"]


def stage_api(con, tmp_path, name: str, records: list[dict], account: Partner, cycle: str | None = CYCLE):
    at = dt.datetime(2026, 10, 3, 1, 0, tzinfo=UTC)
    pulled = Pulled(DATASETS[name], cycle, records, {"params": {}, "page_size": 100}, pages=1)
    snapshot = save_snapshot(con, tmp_path, pulled, started_at=at, fetched_at=at, requests=1, retries=0,
                             load_id="run-1")
    with transaction(con):
        return stage_snapshot(con, tmp_path, DATASETS[name], snapshot, "run-1", account)


def monthly_sum(customer: str, currency: str) -> dict:
    return {"customer_id": customer, "cloud_service_type": "hws.service.type.ec2", "resource_type_code": "vm",
            "bill_type": 1, "charge_mode": 3, "amount": Decimal("12.5"), "measure_id": 1, "currency": currency}


def test_api_records_in_another_currency_than_the_accounts_are_one_error(con, tmp_path):
    records = [monthly_sum("c1", "USD"), monthly_sum("c2", "CNY"), monthly_sum("c3", "USD")]
    outcome = stage_api(con, tmp_path, "customer_monthly_sums", records, CHINA)
    assert outcome.rows_loaded == 3 and outcome.findings_count == 1
    assert con.execute("select record_number, rule_id, severity, message from audit.findings").fetchall() == [
        (1, "API.CURRENCY", "error", "2 of 3 record(s) are in USD, but account acme-cn is billed in CNY: check the "
         "account's currency and site in partners.toml; until then these amounts are in the API's currency, not "
         "the account's")]


def test_api_records_in_the_accounts_currency_give_no_finding(con, tmp_path):
    outcome = stage_api(con, tmp_path, "customer_monthly_sums", [monthly_sum("c1", "CNY")], CHINA)
    assert outcome.findings_count == 0
    outcome = stage_api(con, tmp_path, "customer_monthly_sums", [monthly_sum("c1", "USD")], replace(CHINA, currency="USD"))
    assert outcome.findings_count == 0
    assert con.execute("select count(*) from audit.findings").fetchone() == (0,)
