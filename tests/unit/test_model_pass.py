"""The one-query pass of a pandera model (pipelines/lib/model_pass.py): True only where pandera finds
nothing, False wherever pandera would find something, and False for what it does not cover."""

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest

from pipelines.lib.findings import bill_line_findings
from pipelines.lib.model_pass import proven_valid
from pipelines.lib.parsing import parse_member
from schemas.bill_line import BillLineIdentities, BillLineModel
from schemas.datasets import BILL_LINE
from tests.fixtures.bill_files import good_row, member_csv

REFUND = good_row(trade_id="R1", bill_type="Refund", original_order_id="O1", official_amount="-9",
                  discount_amount="0", amount_due="-9", credit_amount="-9")


@pytest.fixture(scope="module")
def lines() -> pl.DataFrame:
    """Typed, valid bill lines as the parser hands them to the models (order_type and period_unit null)."""
    parsed, _ = parse_member(member_csv([good_row(), good_row(trade_id="T2", customer_id="cust-2"), REFUND]),
                             BILL_LINE, BillLineModel, "2026-09")
    assert parsed.loaded.height == 3 and parsed.loaded["order_type"].null_count() == 3
    return parsed.loaded


def pandera_passes(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> bool:
    try:
        model.validate(frame, lazy=True)
    except (pandera.errors.SchemaErrors, pandera.errors.SchemaError):
        return False
    return True


def on_row(frame: pl.DataFrame, row: int, column: str, value, dtype=None) -> pl.DataFrame:
    """`frame` with `column` of row `row` set to `value`."""
    dtype = dtype or frame.schema[column]
    return frame.with_columns(pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype))
                              .otherwise(pl.col(column)).alias(column))


def test_valid_lines_are_proven_valid_by_both_models(lines):
    assert proven_valid(BillLineModel, lines) is True and pandera_passes(BillLineModel, lines)
    assert proven_valid(BillLineIdentities, lines) is True and pandera_passes(BillLineIdentities, lines)
    # a nullable code column with nulls passes its code list, as in pandera (a null is not checked)
    assert lines["period_unit"].null_count() == 3


@pytest.mark.parametrize("change", [
    lambda f: on_row(f, 1, "customer_id", None),                      # required
    lambda f: on_row(f, 0, "bill_type", "Purchase"),                  # code list
    lambda f: on_row(f, 2, "is_spot", "X"),                           # nullable code list, a value off it
    lambda f: on_row(f, 0, "customer_id", "c" * 65),                  # length
    lambda f: on_row(f, 1, "bill_cycle", "2026-9"),                   # pattern
    lambda f: on_row(f, 1, "source_bill_cycle", "2026-08"),           # dataframe check: the file's month
    lambda f: f.with_columns(pl.col("billing_mode").cast(pl.Int32)),  # dtype
    lambda f: f.drop("trade_id"),                                     # a column missing
], ids=["required", "code-list", "nullable-code-list", "length", "pattern", "cycle-mismatch", "dtype", "missing"])
def test_every_kind_of_structural_failure_is_not_proven_valid(lines, change):
    changed = change(lines)
    assert not pandera_passes(BillLineModel, changed)
    assert proven_valid(BillLineModel, changed) is False


@pytest.mark.parametrize("change", [
    lambda f: on_row(f, 0, "amount_due", 8),                          # official − discount − truncated
    lambda f: on_row(f, 2, "original_order_id", None),                # a refund names its order
    lambda f: on_row(f, 1, "official_amount", -10),                   # an expenditure is not negative
], ids=["amount-due", "refund-without-order", "expenditure-sign"])
def test_every_kind_of_identity_failure_is_not_proven_valid(lines, change):
    changed = change(lines)
    assert not pandera_passes(BillLineIdentities, changed)
    assert proven_valid(BillLineIdentities, changed) is False


def test_a_check_that_counts_a_null_as_a_failure_is_read_as_pandera_reads_it():
    class Strict(pa.DataFrameModel):
        code: str = pa.Field(nullable=True, isin=["A", "B"], ignore_na=False)

    class Lenient(pa.DataFrameModel):
        code: str = pa.Field(nullable=True, isin=["A", "B"])

    frame = pl.DataFrame({"code": ["A", None]})
    assert not pandera_passes(Strict, frame) and proven_valid(Strict, frame) is False
    assert pandera_passes(Lenient, frame) and proven_valid(Lenient, frame) is True


def test_what_the_pass_does_not_cover_is_left_to_pandera():
    class Unique(pa.DataFrameModel):
        code: str = pa.Field(unique=True)

    class Coerced(pa.DataFrameModel):
        amount: pl.Int64 = pa.Field()

        class Config:
            coerce = True

    class ElementWise(pa.DataFrameModel):
        code: str = pa.Field()

        @pa.check("code", element_wise=True)
        def short(cls, value: str) -> bool:
            return len(value) < 5

    for model, frame in ((Unique, pl.DataFrame({"code": ["A", "B"]})),
                         (Coerced, pl.DataFrame({"amount": ["1"]})),
                         (ElementWise, pl.DataFrame({"code": ["A"]}))):
        assert pandera_passes(model, frame)
        assert proven_valid(model, frame) is False  # valid, but not proven here: pandera decides


def test_a_valid_member_is_not_validated_by_pandera_and_a_bad_one_still_is(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pandera was asked although the one-query pass had proven the member valid")

    monkeypatch.setattr(BillLineModel, "validate", refuse)
    monkeypatch.setattr(BillLineIdentities, "validate", refuse)
    parsed, _ = parse_member(member_csv([good_row(), REFUND]), BILL_LINE, BillLineModel, "2026-09")
    assert parsed.loaded.height == 2 and parsed.quarantined.height == 0
    assert bill_line_findings(parsed.loaded).height == 0
    monkeypatch.undo()

    parsed, _ = parse_member(member_csv([good_row(), good_row(trade_id="T2", bill_type="Purchase")]),
                             BILL_LINE, BillLineModel, "2026-09")
    assert parsed.loaded["trade_id"].to_list() == ["T0001"]
    assert parsed.quarantined["rule_id"].to_list() == ["FILE.ENUM"]
    assert parsed.quarantined["reason"][0].startswith("bill_type: 'Purchase'")


def test_a_check_that_raises_is_left_to_pandera_which_reports_it():
    class Raising(pa.DataFrameModel):
        code: str = pa.Field()

        @pa.dataframe_check(name="BROKEN")
        def broken(cls, data: pa.PolarsData) -> pl.LazyFrame:
            raise ValueError("the check itself is broken")

    frame = pl.DataFrame({"code": ["A"]})
    assert proven_valid(Raising, frame) is False
    with pytest.raises(pandera.errors.SchemaErrors, match="the check itself is broken"):
        Raising.validate(frame, lazy=True)
