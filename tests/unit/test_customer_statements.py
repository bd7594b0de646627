"""Customer statements rendered from an in-memory warehouse and read back with pypdf: the total is
the exact sum rounded, Chinese and Thai names come back as text (Thai from the fallback font, embedded
only where it is printed), a character no font has is named in one line, a long statement breaks over
pages with its header repeated, a customer with only refunds says it had no usage, and the same month
gives the same bytes."""

import logging
import re

import pytest
from pypdf import PdfReader

from pipelines.lib.sql_models import run_model
from reports.customer_statements import write_customer_statements
from tests.unit.test_sql_models import add_line

CYCLE = "2026-09"


THAI_NAME = "บริษัท ไทยคลาวด์ จำกัด"


def build_marts(con):
    """The models the statements read, from the lines added so far."""
    run_model(con, "core", "customer_discount_rule")
    run_model(con, "core", "refund_original_order", CYCLE)  # prices the refunds
    run_model(con, "core", "line_agreement", CYCLE)
    run_model(con, "core", "rated_bill_line", CYCLE)
    run_model(con, "marts", "customer_monthly_expenditure", CYCLE)
    run_model(con, "marts", "customer_bill_line")


def render(con, tmp_path, customers):
    build_marts(con)
    folder = tmp_path / "customer_bills"
    folder.mkdir(parents=True)
    bills = {customer: folder / f"{customer}.csv" for customer in customers}
    for path in bills.values():
        path.write_text("lines\n", encoding="utf-8")
    (folder / "gone.pdf").write_bytes(b"%PDF of a customer no longer billed")
    return write_customer_statements(con, CYCLE, bills)


def text_of(path):
    reader = PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def fonts_of(path):
    """The base names of the fonts a statement embeds, without the subset tag."""
    return sorted({font["/BaseFont"].split("+")[-1] for page in PdfReader(path).pages
                   for font in page["/Resources"]["/Font"].values()})


def add_named_customers(con, names):
    for record, (customer, name) in enumerate(names.items(), start=1):
        add_line(con, record, customer, "svc.ecs", "res.vm", "2026-09-03", "Expenditure", "10", "0", "10")
        con.execute("update staging.bill_line set customer_name = ? where customer_id = ?", [name, customer])


def test_the_total_is_the_exact_sum_rounded_and_chinese_names_read_back(con, tmp_path):
    # three groups of 0.005 each: every row shows 0.01, the total 0.015 shows 0.02 (half-up)
    for record, resource in enumerate(("res.a", "res.b", "res.c"), start=1):
        add_line(con, record, "c1", "svc.ecs", resource, "2026-09-03", "Expenditure", "0.005", "0", "0.005")
    con.execute("update staging.bill_line set customer_name = '深圳市博远信息技术有限公司', "
                "resource_type_name = upper(resource_type_code)")
    written = render(con, tmp_path, ["c1"])
    assert sorted(written) == ["c1"] and not (tmp_path / "customer_bills" / "gone.pdf").exists()
    pages, text = text_of(written["c1"])
    assert pages == 1
    assert re.search(r"Total due\s*USD 0\.02", text)
    assert text.count("0.01") == 6  # list price and charge of each of the three rows
    assert "深圳市博远信息技术有限公司" in text and "2026-09 (01 Sep 2026 – 30 Sep 2026, GMT+8)" in text
    assert "Issued by" in text and "p0" in text


def test_a_long_statement_breaks_over_pages_and_refunds_stand_apart(con, tmp_path):
    for record in range(1, 91):
        add_line(con, record, "c1", "svc.ecs", f"res.{record:03d}", "2026-09-03", "Expenditure", "10", "0", "10")
    add_line(con, 91, "c1", "svc.ecs", "res.001", "2026-09-20", "Refund", "-4", "0", "-4", original="T1")
    add_line(con, 92, "c2", "svc.obs", "res.bucket", "2026-09-20", "Refund", "-2.5", "0", "-2.5")
    con.execute("update staging.bill_line set resource_type_name = resource_type_code")
    written = render(con, tmp_path, ["c1", "c2"])
    pages, text = text_of(written["c1"])
    assert pages >= 2 and f"page {pages} of {pages}" in text
    assert text.count("Resource type") == pages + 1  # the usage table's header on every page, and the refunds'
    assert re.search(r"Total usage\s+90\s+900\.00\s+900\.00", text)
    assert re.search(r"Total refunds\s+1\s+-4\.00\s+-4\.00", text)
    assert re.search(r"Total due\s*USD 896\.00", text)
    _, only_refunds = text_of(written["c2"])
    assert "No usage this month." in only_refunds and re.search(r"Total due\s*USD -2\.50", only_refunds)


def test_a_thai_name_prints_in_the_thai_fallback_font_embedded_only_where_needed(con, tmp_path):
    add_named_customers(con, {"c1": THAI_NAME, "c2": "深圳市云端科技有限公司", "c3": "Müller & Söhne Handels GmbH"})
    written = render(con, tmp_path, ["c1", "c2", "c3"])
    texts = {customer: text_of(path)[1] for customer, path in written.items()}
    assert f"Billed to {THAI_NAME} (customer c1)" in texts["c1"]
    assert "Billed to 深圳市云端科技有限公司 (customer c2)" in texts["c2"]
    assert "Billed to Müller & Söhne Handels GmbH (customer c3)" in texts["c3"]
    assert fonts_of(written["c1"]) == ["NotoSansThai", "WenQuanYiMicroHei"]
    assert fonts_of(written["c2"]) == fonts_of(written["c3"]) == ["WenQuanYiMicroHei"]


def test_characters_no_font_has_are_named_in_one_line(con, tmp_path, caplog):
    add_named_customers(con, {"c1": "شركة", "c2": THAI_NAME})
    with caplog.at_level(logging.WARNING, logger="reports.customer_statements"):
        written = render(con, tmp_path, ["c1", "c2"])
    (record,) = [r for r in caplog.records if r.name == "reports.customer_statements"]
    assert record.getMessage() == (
        "2026-09: 1 customer statement(s) print without characters no statement font has (c1: شركة); the CSV "
        "bills keep them. To print them, add a font that has them to FONT_SOURCES in reports/statement_fonts.py")
    assert "Billed to (customer c1)" in " ".join(text_of(written["c1"])[1].split())  # the rest still prints


def test_the_same_month_gives_byte_identical_statements(con, tmp_path):
    add_named_customers(con, {"c1": THAI_NAME, "c2": "深圳市云端科技有限公司", "c3": "Bosphorus Bilişim A.Ş."})
    first = {customer: path.read_bytes() for customer, path in render(con, tmp_path / "a", ["c1", "c2", "c3"]).items()}
    second = {customer: path.read_bytes() for customer, path in render(con, tmp_path / "b", ["c1", "c2", "c3"]).items()}
    assert sorted(first) == ["c1", "c2", "c3"] and first == second


def test_statements_rendered_by_worker_processes_are_the_bytes_rendered_here(con, tmp_path, monkeypatch):
    """A month of many statements is shared out to worker processes (rendered while the pack writes the bills)."""
    from reports import customer_statements

    add_named_customers(con, {"c1": THAI_NAME, "c2": "深圳市云端科技有限公司", "c3": "Bosphorus Bilişim A.Ş."})
    here = {customer: path.read_bytes() for customer, path in render(con, tmp_path / "a", ["c1", "c2", "c3"]).items()}
    spawned = []
    real_pool = customer_statements.ProcessPoolExecutor

    def counted_pool(*args, **kwargs):
        spawned.append(kwargs["max_workers"])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(customer_statements, "PROCESSES_FROM_STATEMENTS", 1)
    monkeypatch.setattr(customer_statements.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(customer_statements, "ProcessPoolExecutor", counted_pool)
    written = render(con, tmp_path / "b", ["c1", "c2", "c3"])
    assert spawned == [2]
    assert list(written) == ["c1", "c2", "c3"]
    assert {customer: path.read_bytes() for customer, path in written.items()} == here
    assert not (tmp_path / "b" / "customer_bills" / "gone.pdf").exists()


def test_workers_render_the_statements_while_the_caller_writes_the_bills(con, tmp_path, monkeypatch):
    from reports import customer_statements

    add_named_customers(con, {"c1": "Acme", "c2": "Beta"})
    build_marts(con)
    folder = tmp_path / "customer_bills"
    folder.mkdir()
    (folder / "gone.pdf").write_bytes(b"%PDF of a customer no longer billed")
    submitted = []
    real_pool = customer_statements.ProcessPoolExecutor

    class CountedPool(real_pool):
        def submit(self, *args, **kwargs):
            submitted.append(len(args[1]))  # the statements handed to a worker
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(customer_statements, "PROCESSES_FROM_STATEMENTS", 1)
    monkeypatch.setattr(customer_statements.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(customer_statements, "ProcessPoolExecutor", CountedPool)
    with customer_statements.customer_statements_rendered(
            con, CYCLE, folder, lambda customer: folder / f"{customer}.csv") as written:
        # the workers have their statements before the block runs; they are waited for after it:
        # nothing is reported yet, nothing removed
        assert submitted == [1, 1]
        assert written == {} and (folder / "gone.pdf").exists()
    assert written == {"c1": folder / "c1.pdf", "c2": folder / "c2.pdf"}
    assert [text_of(path)[0] for path in written.values()] == [1, 1]
    assert sorted(path.name for path in folder.iterdir()) == ["c1.pdf", "c2.pdf"]


def test_an_error_while_the_bills_are_written_stops_the_statements_and_removes_nothing(con, tmp_path, monkeypatch):
    from reports import customer_statements

    add_named_customers(con, {"c1": "Acme", "c2": "Beta"})
    build_marts(con)
    folder = tmp_path / "customer_bills"
    folder.mkdir()
    (folder / "gone.pdf").write_bytes(b"%PDF of a customer no longer billed")
    monkeypatch.setattr(customer_statements, "PROCESSES_FROM_STATEMENTS", 1)
    monkeypatch.setattr(customer_statements.os, "cpu_count", lambda: 2)
    with pytest.raises(OSError, match="disk full"):
        with customer_statements.customer_statements_rendered(
                con, CYCLE, folder, lambda customer: folder / f"{customer}.csv") as written:
            raise OSError("disk full")
    assert written == {}
    assert (folder / "gone.pdf").exists()


def test_without_worker_processes_the_statements_are_rendered_here_and_said_so(con, tmp_path, monkeypatch, caplog):
    from reports import customer_statements

    def no_semaphores(*args, **kwargs):
        raise OSError("[Errno 38] Function not implemented")

    add_named_customers(con, {"c1": "Acme", "c2": "Beta"})
    monkeypatch.setattr(customer_statements, "PROCESSES_FROM_STATEMENTS", 1)
    monkeypatch.setattr(customer_statements.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(customer_statements, "ProcessPoolExecutor", no_semaphores)
    with caplog.at_level(logging.WARNING):
        written = render(con, tmp_path, ["c1", "c2"])
    assert [text_of(path)[0] for path in written.values()] == [1, 1]
    assert caplog.messages == ["customer statements rendered in this process only: worker processes failed "
                               "([Errno 38] Function not implemented)"]


def test_a_name_longer_than_the_line_wraps_and_a_short_one_stays_on_one_line(con, tmp_path):
    long_name = " ".join(["Soluciones Digitales del Pacífico"] * 3) + " S.A. de C.V."
    add_named_customers(con, {"c1": long_name, "c2": f"{THAI_NAME} {THAI_NAME}", "c3": "Acme, Inc."})
    written = render(con, tmp_path, ["c1", "c2", "c3"])
    lines = {customer: text_of(path)[1].splitlines() for customer, path in written.items()}
    billed = {customer: next(i for i, line in enumerate(text) if line.startswith("Billed to"))
              for customer, text in lines.items()}
    wrapped = lines["c1"][billed["c1"]:billed["c1"] + 2]
    assert " ".join(" ".join(wrapped).split()) == f"Billed to {long_name} (customer c1)"
    assert lines["c1"][billed["c1"] + 2].startswith("Period")
    assert lines["c2"][billed["c2"]] == f"Billed to {THAI_NAME} {THAI_NAME} (customer c2)"
    assert lines["c3"][billed["c3"]] == "Billed to Acme, Inc. (customer c3)"


def test_a_wrapped_name_is_left_aligned_not_spread_over_the_line(con, tmp_path):
    customer = "001b8ba230c00d45032ce1532e94c9c7"
    add_named_customers(con, {customer: "深圳市锦程文化传媒有限公司 (1544)"})
    lines = text_of(render(con, tmp_path, [customer])[customer])[1].splitlines()
    billed = next(i for i, line in enumerate(lines) if line.startswith("Billed to"))
    # a justified line reads back with its spaces widened
    assert lines[billed:billed + 2] == ["Billed to 深圳市锦程文化传媒有限公司 (1544) (customer", f"{customer})"]


def test_the_closing_notes_name_the_currency_and_the_bill(con, tmp_path):
    add_named_customers(con, {"c1": "Acme", "c2": "Globex"})
    build_marts(con)
    folder = tmp_path / "customer_bills"
    bills = {"c1": folder / "c1.csv", "c2": folder / "c2.csv"}
    # the closing paragraph is broken into lines once per process and currency: a second month in
    # another currency must not reuse the first one's lines
    usd = write_customer_statements(con, CYCLE, bills)
    cny = write_customer_statements(con, CYCLE, {"c2": tmp_path / "cny" / "c2.csv"}, currency="CNY")
    for path, currency, bill in ((usd["c1"], "USD", "c1.csv"), (usd["c2"], "USD", "c2.csv"),
                                 (cny["c2"], "CNY", "c2.csv")):
        text = " ".join(text_of(path)[1].split())
        assert (f"Amounts in {currency}, rounded half-up to the cent; every subtotal and total is its exact sum "
                "rounded, so rounded rows may differ from it by a cent.") in text
        assert "refunds are credited at the agreed discount too. Every line of this statement is in " + bill in text
        assert "USD" not in text if currency == "CNY" else "CNY" not in text


def test_a_statement_worker_imports_the_statements_without_the_other_renderers():
    """A worker process imports reports.customer_statements; the package's entry points (the page, the
    flash, polars) stay unimported until asked for, and asking still works."""
    import subprocess
    import sys

    probe = ("import sys, reports.customer_statements\n"
             "print(sorted(m for m in ('reports.month_close', 'reports.daily_flash', 'polars') if m in sys.modules))\n"
             "from reports import render_month_close\n"
             "print(render_month_close.__module__, 'reports.month_close' in sys.modules)\n")
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == ["[]", "reports.month_close True"]
