"""The reports say what the warehouse and the sources say.

A small world with planted anomalies is closed month by month against the local S3 server and the
BSS emulator; then every figure the month-close page, its workbook and the daily flash state is read
back (the HTML with html.parser, the XLSX with openpyxl) and compared with the warehouse and with the
sources: the bill file's lines, the API's partner bill and budgets, the usage export.

The figures are found by what they are, never by wording: HTML tables carry `data-table`, their
header cells `data-field`, their rows `data-key` (finding rows `data-rule`), statuses `data-status`
and headline figures `data-figure`; an XLSX column is known by the note on its header, which is the
column's entry in the warehouse contract (schemas/warehouse_contract.py). The workbook shows a status in
words (reports/formatting.py `status_text`), the page marks the code itself.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.runner import run_cycle
from reports.formatting import status_text
from sandbox.bss import BssEmulator
from sandbox.objectstore import make_s3_client, upload_tree
from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world
from schemas.warehouse_contract import column_note, table_contract
from tests.integration.expected import money, read_bill_lines

CENT = Decimal("0.01")
EXACT = Decimal("0.000001")  # an XLSX number is a double: 8-decimal sums survive to this
MONEY_FIELDS = ("official_amount", "discount_amount", "amount_due", "refund_amount", "adjustment_amount",
                "customer_charge_amount", "margin_amount")
# the pure sums of the bill file's lines, per bill type (the customer charge needs the agreements)
SOURCE_FIELDS = {"official_amount": "Expenditure", "discount_amount": "Expenditure", "amount_due": "Expenditure",
                 "refund_amount": "Refund", "adjustment_amount": "Adjustment"}
SOURCE_COLUMN = {"official_amount": "official_amount", "discount_amount": "discount_amount",
                 "amount_due": "amount_due", "refund_amount": "amount_due", "adjustment_amount": "amount_due"}


# ------------------------------------------------------------------------------------------ reading back

def number(text: str | None) -> Decimal | None:
    """A displayed number: thousands separators, a currency, a percent sign, a minus sign of any
    kind or parentheses for negatives are all accepted; '' and 'n/a' are None."""
    if text is None:
        return None
    cleaned = text.replace("\u2212", "-").replace(",", "").replace("USD", "").replace("%", "").strip()
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()").strip()
    if cleaned in ("", "n/a", "—"):
        return None
    value = Decimal(cleaned)
    return -value if negative else value


def cents(value: Decimal | None) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(ratio: Decimal | None) -> Decimal | None:
    return None if ratio is None else (Decimal(ratio) * 100).quantize(CENT, rounding=ROUND_HALF_UP)


_VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "col"}


class ReportPage(HTMLParser):
    """The marked parts of a report page.

    tables: data-table -> {"fields": [data-field per column], "rows": {data-key: {field: text}},
    "rules": [data-rule of each finding row]}; a cell's data-status, when it has one, stands for its
    text. figures: data-figure -> text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict] = {}
        self.figures: dict[str, str] = {}
        self._table: dict | None = None
        self._in_head = False
        self._row: tuple[str | None, list[tuple[int, list[str], str | None]]] | None = None
        self._cell: list | None = None  # [colspan, texts, status]
        self._figure: list | None = None  # [name, depth, texts]
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if self._figure is not None and tag not in _VOID:
            self._figure[1] += 1
        if "data-figure" in attributes and self._figure is None:
            self._figure = [attributes["data-figure"], 0, []]
        if tag == "table" and "data-table" in attributes:
            self._table = self.tables.setdefault(attributes["data-table"], {"fields": [], "rows": {}, "rules": []})
        if self._table is None:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "th" and self._in_head:
            self._table["fields"] += [attributes.get("data-field")] * int(attributes.get("colspan", 1))
        elif tag == "tr":
            if "data-rule" in attributes:
                self._table["rules"].append(attributes["data-rule"])
            self._row = (attributes.get("data-key"), [])
        elif tag == "td" and self._row is not None:
            self._cell = [int(attributes.get("colspan", 1)), [], None]
        if self._cell is not None and "data-status" in attributes:
            self._cell[2] = attributes["data-status"]

    def handle_endtag(self, tag):
        if self._figure is not None and tag not in _VOID:
            self._figure[1] -= 1
            if self._figure[1] < 0:
                self.figures[self._figure[0]] = " ".join("".join(self._figure[2]).split())
                self._figure = None
        if self._table is None:
            return
        if tag == "thead":
            self._in_head = False
        elif tag == "td" and self._cell is not None:
            span, texts, status = self._cell
            self._row[1].append((span, texts, status))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            key, cells = self._row
            if key is not None:
                values: list[str] = []
                for span, texts, status in cells:
                    values += [status if status is not None else " ".join("".join(texts).split())] * span
                fields = self._table["fields"]
                assert len(values) == len(fields), f"row {key}: {len(values)} cells under {len(fields)} headers"
                self._table["rows"][key] = {f: v for f, v in zip(fields, values) if f}
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1].append(data)
        if self._figure is not None:
            self._figure[2].append(data)


def sheet_columns(sheet, table: str) -> tuple[int, dict[str, int]]:
    """(header row, field -> column) of the sheet's table of `table`, the columns known by their header
    notes, which are the contract's entries."""
    notes = {column_note(table, column.name): column.name for column in table_contract(table).columns}
    for row in sheet.iter_rows():
        found = {notes[cell.comment.text]: cell.column for cell in row
                 if cell.comment is not None and cell.comment.text in notes}
        if found:
            return row[0].row, found
    raise AssertionError(f"sheet {sheet.title} has no header noted from {table}")


def sheet_records(sheet, table: str, key: str) -> dict[str, dict[str, object]]:
    """key value -> {field: cell value} for the rows under the header of `table`'s columns."""
    header, columns = sheet_columns(sheet, table)
    records = {}
    for row in sheet.iter_rows(min_row=header + 1):
        cells = {field: row[column - 1].value for field, column in columns.items() if column <= len(row)}
        if cells.get(key) is not None:
            records[cells[key]] = cells
    return records


def close_to(value: object, expected: Decimal | None) -> bool:
    if expected is None:
        return value is None
    return value is not None and abs(Decimal(str(value)) - Decimal(expected)) <= EXACT


# ------------------------------------------------------------------------------------------ the world

@pytest.fixture(scope="module")
def closed(s3_server, tmp_path_factory):
    """Every month of a world with one anomaly of each kind, closed with the files and the API."""
    world = generate_world(WorldConfig(seed=2, anomalies=1, customers=16, resellers=2, closed_months=2,
                                       lines_per_month=1500, usage_export_days=3))
    world.api_data.prepare()
    root = tmp_path_factory.mktemp("consistency")
    write_world(world, root / "files")
    bucket = "report-consistency"
    upload_tree(make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key), bucket,
                root / "files")
    with BssEmulator(world, throttle=False) as emulator:
        resources = {
            "object_store": ObjectStoreResource(endpoint_url=s3_server.endpoint_url, bucket=bucket,
                                                access_key=s3_server.access_key, secret_key=s3_server.secret_key),
            "warehouse": WarehouseResource(path=str(root / "wh" / "billrecon.duckdb")),
            "reports": ReportsResource(out_dir=str(root / "reports")),
            "bss_api": BssApiResource(endpoint=emulator.endpoint_url, access_key=emulator.access_key,
                                      secret_key=emulator.secret_key, domain_id=emulator.domain_id),
        }
        # the last closed month once more at the end: its pack's budgets and coupons ("as of the latest
        # run") then describe the same warehouse as the open month's flash
        months = [*world.months, world.closed_months[-1]]
        runs = [run_cycle(month, resources) for month in months]
    assert [(run.bill_cycle, run.success) for run in runs] == [(month, True) for month in months]
    con = duckdb.connect(str(root / "wh" / "billrecon.duckdb"), read_only=True)
    yield world, root, con
    con.close()


def rows(con, sql: str, parameters: list | None = None) -> list[dict]:
    cursor = con.execute(sql, parameters or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def month_close_page(root: Path, cycle: str) -> ReportPage:
    return ReportPage((root / "reports" / cycle / f"month_close_{cycle}.html").read_text(encoding="utf-8"))


def bill_file_sums(root: Path, cycle: str) -> dict[str, dict[str, Decimal]]:
    """customer -> field -> Σ over the bill file's lines, straight from the delivered archive."""
    archive = root / "files" / "customerBill" / f"customerBill_{cycle.replace('-', '')}.tar.gz"
    sums: dict[str, dict[str, Decimal]] = {}
    for line in read_bill_lines(archive):
        totals = sums.setdefault(line["customer_id"], dict.fromkeys(SOURCE_FIELDS, Decimal(0)))
        for field, bill_type in SOURCE_FIELDS.items():
            if line["bill_type"] == bill_type:
                totals[field] += money(line[SOURCE_COLUMN[field]])
    return sums


# ------------------------------------------------------------------------------------------ month close, HTML

def test_month_close_customers_services_and_totals_are_the_warehouse_and_the_bill_file(closed):
    world, root, con = closed
    cycle = world.closed_months[-1]
    page = month_close_page(root, cycle)
    customers = {r["customer_id"]: r for r in rows(con, f"""
        select customer_id, {', '.join(f'sum({f}) as {f}' for f in MONEY_FIELDS if f != 'margin_ratio')}
        from marts.customer_monthly_expenditure where bill_cycle = ? group by customer_id""", [cycle])}
    totals = rows(con, f"""select {', '.join(f'sum({f}) as {f}' for f in MONEY_FIELDS)}, sum(line_count) as line_count,
                                  count(distinct customer_id) as customer_count
                           from marts.customer_monthly_expenditure where bill_cycle = ?""", [cycle])[0]
    source = bill_file_sums(root, cycle)

    shown = page.tables["customers"]["rows"]
    listed = [key for key in shown if key not in ("others", "all")]
    assert len(listed) >= 5 and set(listed) <= set(customers)
    for customer in listed:
        for field in MONEY_FIELDS:
            assert number(shown[customer][field]) == cents(customers[customer][field]), (customer, field)
        for field in SOURCE_FIELDS:
            assert number(shown[customer][field]) == cents(source[customer][field]), (customer, field, "bill file")
        margin = customers[customer]["margin_amount"] / customers[customer]["customer_charge_amount"]
        assert number(shown[customer]["margin_ratio"]) == percent(margin)
    for field in MONEY_FIELDS:
        assert number(shown["all"][field]) == cents(totals[field]), field
        assert number(shown["all"][field]) == cents(sum(c[field] for c in customers.values()))
        if "others" in shown:
            others = sum(customers[c][field] for c in customers if c not in listed)
            assert number(shown["others"][field]) == cents(others), field
    for field in SOURCE_FIELDS:
        assert number(shown["all"][field]) == cents(sum(s[field] for s in source.values())), (field, "bill file")

    services = {r["service_type_code"]: r for r in rows(con, f"""
        select service_type_code, {', '.join(f'sum({f}) as {f}' for f in MONEY_FIELDS)},
               sum(line_count) as line_count, count(distinct customer_id) as customer_count
        from marts.customer_monthly_expenditure where bill_cycle = ? group by service_type_code""", [cycle])}
    shown = page.tables["services"]["rows"]
    assert set(shown) == {*services, "all"}
    for service, row in services.items():
        for field in MONEY_FIELDS:
            assert number(shown[service][field]) == cents(row[field]), (service, field)
        assert number(shown[service]["line_count"]) == row["line_count"]
        assert number(shown[service]["customer_count"]) == row["customer_count"]
    for field in MONEY_FIELDS:
        assert number(shown["all"][field]) == cents(totals[field]), field
    assert number(shown["all"]["customer_count"]) == totals["customer_count"]
    assert number(shown["all"]["line_count"]) == totals["line_count"] == len(read_bill_lines(
        root / "files" / "customerBill" / f"customerBill_{cycle.replace('-', '')}.tar.gz"))

    assert number(page.figures["customer_charge_amount"]) == cents(totals["customer_charge_amount"])
    assert number(page.figures["net_amount_due"]) == cents(
        totals["amount_due"] + totals["refund_amount"] + totals["adjustment_amount"])
    assert number(page.figures["margin_amount"]) == cents(totals["margin_amount"])
    assert number(page.figures["line_count"]) == totals["line_count"]


def test_month_close_tie_out_findings_data_quality_and_incentives_are_the_warehouse_and_the_api(closed):
    world, root, con = closed
    cycle = world.closed_months[-1]
    page = month_close_page(root, cycle)

    tieout = {r["component"]: r for r in rows(con, "select * from marts.partner_bill_tieout where bill_cycle = ?",
                                               [cycle])}
    shown = page.tables["partner_bill_tieout"]["rows"]
    assert set(shown) == set(tieout) == {"consumption", "refunds", "adjustments", "amount_due"}
    for component, row in tieout.items():
        for field in ("file_amount", "api_amount", "difference_amount"):
            assert number(shown[component][field]) == cents(row[field]), (component, field)
        assert shown[component]["status"] == row["status"]
    bill = world.api_data.partner_bill(cycle)  # what the API served
    api_side = {"consumption": bill["consume_amount"], "refunds": bill["refunds"],
                "adjustments": bill["adjustments"], "amount_due": bill["initial_amount_due"]}
    assert {c: number(shown[c]["api_amount"]) for c in shown} == {c: cents(v) for c, v in api_side.items()}

    in_scope = rows(con, """select rule_id from marts.reconciliation_findings
                            where bill_cycle = ? or bill_cycle is null""", [cycle])
    assert len(in_scope) > 0  # the planted anomalies are found
    assert Counter(page.tables["reconciliation_findings"]["rules"]) == Counter(r["rule_id"] for r in in_scope)

    quality = {f"{r['object_key']}|{r['member'] or ''}": r for r in rows(con, """
        select * from marts.data_quality where bill_cycle = ? or (bill_cycle is null and member is null)""", [cycle])}
    shown = page.tables["data_quality"]["rows"]
    assert set(shown) == set(quality) and any(key.startswith("customerBill/") for key in shown)
    for key, row in quality.items():
        for field in ("rows_read", "rows_loaded", "rows_quarantined", "findings_count"):
            assert number(shown[key][field]) == row[field], (key, field)
        assert shown[key]["status"] == row["status"]

    audit = {r["rule_id"]: r for r in rows(con, """
        select rule_id, count(*) as finding_count, sum(difference_amount) as difference_amount from audit.findings
        where bill_cycle = ? or object_key in (select object_key from marts.data_quality
                                               where bill_cycle = ? or (bill_cycle is null and member is null))
        group by rule_id""", [cycle, cycle])}
    shown = page.tables.get("findings_by_rule", {"rows": {}})["rows"]
    assert {rule: number(row["finding_count"]) for rule, row in shown.items()} == \
        {rule: row["finding_count"] for rule, row in audit.items()}

    incentives = {f"{r['incentive_type']}|{r['service_type_code'] or ''}": r for r in rows(
        con, "select * from marts.incentive_reconciliation where period = ?", [cycle])}
    shown = page.tables["incentive_reconciliation"]["rows"]
    assert set(shown) == {*incentives, "all"} and len(incentives) > 0
    for key, row in incentives.items():
        assert shown[key]["status"] == row["status"], key
        for field in ("eligible_performance_amount", "expected_incentive_amount", "statement_incentive_amount",
                      "difference_amount"):
            expected = None if row[field] is None else cents(row[field])
            assert number(shown[key][field]) == expected, (key, field)
        assert number(shown[key]["rate"]) == percent(row["rate"])
    for field in ("eligible_performance_amount", "expected_incentive_amount", "statement_incentive_amount"):
        assert number(shown["all"][field]) == cents(sum(r[field] or 0 for r in incentives.values())), field

    assert_budgets_shown(page, world, con, cycle)


# ------------------------------------------------------------------------------------------ month close, XLSX

def test_month_close_workbook_holds_the_warehouse_figures_to_the_eighth_decimal(closed):
    world, root, con = closed
    cycle = world.closed_months[-1]
    workbook = openpyxl.load_workbook(root / "reports" / cycle / f"month_close_{cycle}.xlsx")
    expenditure = "marts.customer_monthly_expenditure"

    customers = {r["customer_id"]: r for r in rows(con, f"""
        select customer_id, {', '.join(f'sum({f}) as {f}' for f in MONEY_FIELDS)}
        from marts.customer_monthly_expenditure where bill_cycle = ? group by customer_id""", [cycle])}
    sheet = sheet_records(workbook["Customers"], expenditure, "customer_id")
    (total_label,) = set(sheet) - set(customers)  # the total line under the table, whatever its label
    assert set(sheet) - {total_label} == set(customers)
    for customer, row in customers.items():
        for field in MONEY_FIELDS:
            assert close_to(sheet[customer][field], row[field]), (customer, field)
    for field in MONEY_FIELDS:
        assert close_to(sheet[total_label][field], sum(row[field] for row in customers.values())), field

    services = {r["service_type_code"]: r for r in rows(con, """
        select service_type_code, sum(amount_due) as amount_due, sum(customer_charge_amount) as customer_charge_amount
        from marts.customer_monthly_expenditure where bill_cycle = ? group by service_type_code""", [cycle])}
    sheet = sheet_records(workbook["Services"], expenditure, "service_type_code")
    assert len(set(sheet) - set(services)) == 1 and set(services) <= set(sheet)
    for service, row in services.items():
        assert close_to(sheet[service]["amount_due"], row["amount_due"])
        assert close_to(sheet[service]["customer_charge_amount"], row["customer_charge_amount"])

    tieout = {r["customer_id"]: r for r in rows(con, "select * from marts.customer_bill_tieout where bill_cycle = ?",
                                                 [cycle])}
    sheet = workbook["Tie-out"]
    header, columns = sheet_columns(sheet, "marts.customer_bill_tieout")
    seen = {}
    for row in sheet.iter_rows(min_row=header + 1, values_only=True):
        customer = next((value for value in row if value in tieout), None)
        if customer is not None:
            seen[customer] = {field: row[column - 1] for field, column in columns.items()}
    assert set(seen) == set(tieout)
    for customer, row in tieout.items():
        for field in ("file_amount", "api_amount", "difference_amount"):
            assert close_to(seen[customer][field], row[field]), (customer, field)
        assert seen[customer]["status"] == status_text(row["status"])

    sheet = workbook["Reconciliation"]
    header, columns = sheet_columns(sheet, "marts.reconciliation_findings")
    rules = [row[columns["rule_id"] - 1] for row in sheet.iter_rows(min_row=header + 1, values_only=True)
             if row[columns["rule_id"] - 1]]
    in_scope = rows(con, """select rule_id from marts.reconciliation_findings
                            where bill_cycle = ? or bill_cycle is null""", [cycle])
    assert Counter(rules) == Counter(r["rule_id"] for r in in_scope)

    budgets = {r["customer_id"]: r for r in rows(con, "select * from marts.budget_status where bill_cycle = ?",
                                                 [cycle])}
    sheet = sheet_records(workbook["Budgets"], "marts.budget_status", "customer_id")
    assert set(sheet) == set(budgets) and len(budgets) > 0
    for customer, row in budgets.items():
        for field in ("budget_amount", "mtd_spend_amount", "utilisation_ratio", "threshold_crossed_ratio",
                      "forecast_utilisation_ratio"):
            assert close_to(sheet[customer][field], row[field]), (customer, field)
        assert sheet[customer]["status"] == status_text(row["status"])


# ------------------------------------------------------------------------------------------ daily flash

def test_daily_flash_is_the_usage_export_the_budgets_api_and_the_warehouse(closed):
    world, root, con = closed
    cycle = world.open_month
    flashes = sorted((root / "reports" / cycle).glob("daily_flash_*.html"))
    assert len(flashes) == 1
    page = ReportPage(flashes[0].read_text(encoding="utf-8"))

    usage = {r["customer_id"]: r for r in rows(con, """
        select customer_id, sum(official_amount) as official_amount, sum(amount_due) as amount_due,
               count(*) as line_count
        from staging.usage_line
        where bill_cycle = ? and export_date = (select max(export_date) from staging.usage_line where bill_cycle = ?)
        group by customer_id""", [cycle, cycle])}
    source = world.api_data.month_to_date_list_spend  # the newest usage export as generated
    assert number(page.figures["mtd_official_amount"]) == cents(sum(r["official_amount"] for r in usage.values()))
    assert number(page.figures["mtd_official_amount"]) == cents(sum(source.values()))

    shown = page.tables["customers"]["rows"]
    assert len(shown) >= 5 and set(shown) <= set(usage)
    for customer, row in shown.items():
        assert number(row["mtd_official_amount"]) == cents(usage[customer]["official_amount"]) == cents(source[customer])
        assert number(row["mtd_amount_due"]) == cents(usage[customer]["amount_due"])
        assert number(row["mtd_line_count"]) == usage[customer]["line_count"]

    # the same days of the previous month, from that month's own bill file as delivered
    (days,) = con.execute("select days_covered from core.open_month").fetchone()
    previous = world.closed_months[-1]
    same_days: dict[str, Decimal] = {}
    for line in read_bill_lines(root / "files" / "customerBill" / f"customerBill_{previous.replace('-', '')}.tar.gz"):
        assert line["trade_time"].endswith("GMT+08:00")  # its date is the GMT+8 trade date
        if (line["bill_type"] == "Expenditure" and line["trade_time"][:7] == previous
                and int(line["trade_time"][8:10]) <= days):
            same_days[line["customer_id"]] = same_days.get(line["customer_id"], Decimal(0)) + money(line["official_amount"])
    assert days > 0 and same_days
    assert number(page.figures["previous_official_amount"]) == cents(sum(same_days.values()))
    for customer, row in shown.items():
        assert number(row["previous_official_amount"]) == cents(same_days.get(customer)), customer

    assert_budgets_shown(page, world, con, world.open_month)


def export_spend(world, cycle: str) -> dict[str, Decimal]:
    """customer -> Σ list price in the month's newest usage export, straight from the generated export."""
    newest = max(key for key in world.usage_exports if key[0] == cycle)
    sums: dict[str, Decimal] = {}
    for record in world.usage_exports[newest].select("customer_id", "official_amount").iter_rows(named=True):
        sums[record["customer_id"]] = sums.get(record["customer_id"], Decimal(0)) + Decimal(record["official_amount"])
    return sums


def assert_budgets_shown(page: ReportPage, world, con, cycle: str) -> None:
    """The page's budget table against the cycle's rows of marts.budget_status, the budgets API and the
    cycle's newest usage export."""
    budgets = {r["customer_id"]: r for r in rows(con, "select * from marts.budget_status where bill_cycle = ?",
                                                 [cycle])}
    api_budgets = {b["customer_id"]: b["budget_amount"] for b in world.api_data.budgets}
    spend = world.api_data.month_to_date_list_spend if cycle == world.open_month else export_spend(world, cycle)
    shown = page.tables["budget_status"]["rows"]
    assert len(shown) > 0 and set(shown) <= set(budgets)
    for customer, row in shown.items():
        expected = budgets[customer]
        assert number(row["budget_amount"]) == cents(expected["budget_amount"]) == cents(api_budgets[customer])
        assert number(row["mtd_spend_amount"]) == cents(expected["mtd_spend_amount"]) == cents(spend.get(customer))
        assert number(row["utilisation_ratio"]) == percent(expected["utilisation_ratio"])
        # a one-time budget whose use in the month is not known has neither utilisation nor forecast
        forecast = expected["forecast_amount"]
        assert number(row["forecast_amount"]) == (None if forecast is None else cents(forecast))
        assert number(row["forecast_utilisation_ratio"]) == percent(expected["forecast_utilisation_ratio"])
        assert row["status"] == expected["status"]
        # the two fractions agree: the threshold is the highest alert level the utilisation reached
        utilisation = expected["utilisation_ratio"]
        crossed = max((t for t in (Decimal("0.75"), Decimal("0.90"), Decimal(1))
                       if utilisation is not None and utilisation >= t), default=Decimal(0))
        assert expected["threshold_crossed_ratio"] == crossed, customer
