"""The small rules every report shares: bill cycles, spreadsheet text, file names, money and changes, the layering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reports import render_month_close
from reports.formatting import format_change_percent, format_money, format_percent
from reports.safety import neutralise_spreadsheet_text, safe_file_stem, unique_file_stems
from tests.unit.month_close.pack_warehouse import D


def test_invalid_bill_cycle_is_refused(warehouse, tmp_path):
    for cycle in ("2026-3", "2026-13", "../2026-03", "2026-03 "):
        with pytest.raises(ValueError):
            render_month_close(warehouse, cycle, tmp_path)


@pytest.mark.parametrize(("text", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Acme", "Acme"), ("", ""), ("a=b", "a=b"),
])
def test_neutralise_spreadsheet_text(text, expected):
    assert neutralise_spreadsheet_text(text) == expected


def test_file_names_are_sanitised_and_never_collide():
    assert safe_file_stem("cust/003") == "cust_003"
    assert safe_file_stem("../../etc") == ".._.._etc"
    assert safe_file_stem("..") == "__"
    assert safe_file_stem("客户1") == "__1"
    stems = unique_file_stems(["a/b", "a_b", "ABC", "abc"])
    assert len({stem.casefold() for stem in stems.values()}) == 4
    assert stems["a/b"] == "a_b" and stems["ABC"] == "ABC"


def test_money_formatting_rounds_half_up_and_has_no_negative_zero():
    assert format_money(D("12345.675")) == "12,345.68"
    assert format_money(D("-0.004")) == "0.00"
    assert format_money(D("-1234.5")) == "-1,234.50"
    assert format_percent(None) == "n/a"


@pytest.mark.slow
def test_reports_does_not_import_the_pipeline_layers():
    code = ("import sys, reports; "
            "layers = ('dagster', 'pipelines', 'sandbox'); "
            "sys.exit(any(m.split('.')[0] in layers for m in sys.modules))")
    project_root = Path(__file__).parents[3]
    assert subprocess.run([sys.executable, "-c", code], cwd=project_root).returncode == 0


@pytest.mark.parametrize(("change", "base", "text"), [
    ("1712.96", "5.00", "n/a"),        # from 5.00 to 1,717.96: no percentage means anything
    ("40", "0", "new"), ("0", "0", "n/a"), ("-4", "9.99", "n/a"),
    ("5000", "100", "> 1,000.00 %"), ("1000", "100", "1,000.00 %"),
    ("50.25", "100", "50.25 %"), ("-25", "100", "-25.00 %"), ("-100", "10", "-1,000.00 %"),
])
def test_month_over_month_changes_on_a_tiny_base_are_words_not_percentages(change, base, text):
    assert format_change_percent(D(change), D(base)) == text
