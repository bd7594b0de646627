"""A pandera model's whole verdict on a frame in one polars query, asked before pandera itself.

pandera validates a polars frame one check at a time: for a 100,000-line member of the bill
file, the two bill-line models run about fifty small queries with Python between them (some 50 ms
of CPU, much of it holding the GIL that the other parsing thread is waiting for). Almost every
member passes. `proven_valid` puts the same questions to the frame in one `collect_all`: each
column's presence, dtype and nulls, and every check through the function pandera itself applies.
It answers True only when every answer is a pass. Anything it does not cover (coercion, unique
columns, element-wise checks, ...) or any error is False, and then pandera validates as before: the
failures and their reasons are always pandera's, so the rules keep one home, the models.
"""

from __future__ import annotations

import functools

import pandera.polars as pa
import polars as pl
from pandera.constants import CHECK_OUTPUT_KEY


def proven_valid(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> bool:
    """True only if pandera's validation of `frame` by `model` would find nothing; False means
    "not proven": validate with pandera."""
    schema = _covered_schema(model)
    if schema is None:
        return False
    try:
        questions = _questions(schema, frame)
        return questions is not None and all(answer.item() is True for answer in pl.collect_all(questions))
    except Exception:  # noqa: BLE001 - whatever went wrong here, pandera's own validation says it
        return False


@functools.cache
def _covered_schema(model: type[pa.DataFrameModel]) -> pa.DataFrameSchema | None:
    """The model's schema when this module asks every question its validation asks, else None."""
    schema = model.to_schema()
    if (schema.coerce or schema.strict or schema.ordered or schema.unique or schema.add_missing_columns
            or getattr(schema, "parsers", None)):
        return None
    for column in schema.columns.values():
        if (column.regex or column.unique or column.coerce or not column.required or column.default is not None
                or getattr(column, "parsers", None)):
            return None
    checks = [*schema.checks, *(check for column in schema.columns.values() for check in column.checks)]
    if any(check.element_wise or check.groupby is not None for check in checks):
        return None
    schema.register_default_backends(pl.LazyFrame)  # what pandera's validate does first
    for check in checks:
        builtin = getattr(check._check_fn, "__name__", None)
        if builtin is not None and check.is_builtin_check(builtin):
            # as pandera's Check.__call__ does first: a model's copy of a built-in check predates the
            # polars implementations registered with the backends
            check._check_fn = check.get_builtin_check_fn(builtin)
    return schema


def _questions(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> list[pl.LazyFrame] | None:
    """One single-value query per question, each True when it passes; None when the frame already
    fails on its columns (one missing, or of another dtype)."""
    lazy = frame.lazy()
    questions = []
    for name, column in schema.columns.items():
        if name not in frame.schema:
            return None
        dtype = frame.schema[name]
        if column.dtype is not None and not column.dtype.check(dtype, pa.PolarsData(lazy.select(name), name)):
            return None
        if not column.nullable:
            present = pl.col(name).is_not_null()
            if dtype.is_float():  # pandera counts NaN as missing too
                present = present & pl.col(name).is_not_nan()
            questions.append(lazy.select(present.all()))
        questions += [_passed(check, lazy, name) for check in column.checks]
    questions += [_passed(check, lazy, "*") for check in schema.checks]
    return questions


def _passed(check: pa.Check, lazy: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """Whether every row passes `check`, read as pandera reads its output: with `ignore_na` (the
    default) a null result is a pass, otherwise a failure."""
    output = pa.Check.get_backend(lazy)(check).apply(pa.PolarsData(lazy, key))
    if isinstance(output, bool):
        return pl.LazyFrame({CHECK_OUTPUT_KEY: [output]})
    result = pl.col(CHECK_OUTPUT_KEY)
    result = (result | result.is_null()) if check.ignore_na else result.fill_null(False)
    return output.select(result.all())
