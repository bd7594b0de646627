"""Write a world as the files of docs/formats.md: monthly bill archives, daily usage archives, the
partner's agreement CSVs and the monthly incentive statements, byte-for-byte reproducible from the
seed; plus `ground_truth.json`, the anomalies the world planted (an empty list when none).

Reproducible means: tar members carry fixed names, mtimes (the delivery time of the file), owner
0/0 and mode 0644; the gzip header carries mtime 0 and no file name; CSV text comes from polars
with a fixed layout.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tarfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from .formats import (
    BILL_TYPE_ZH,
    CHART_OF_ACCOUNTS_KEY,
    CUSTOMER_DISCOUNTS_KEY,
    GROUND_TRUTH_KEY,
    INCENTIVE_RATES_KEY,
    INCENTIVE_STATEMENT_HEADERS,
    SANDBOX_CHART_OF_ACCOUNTS,
    bill_archive_key,
    bill_member_name,
    header_names,
    incentive_statement_key,
    usage_archive_key,
    usage_member_name,
)
from .months import add_months, parse_month
from .world import World, iter_usage_exports

_GMT8 = dt.timezone(dt.timedelta(hours=8))
_BOM = "\ufeff".encode()
DEFAULT_COMPRESSLEVEL = 6


def write_world(world: World, out_dir: Path, compresslevel: int = DEFAULT_COMPRESSLEVEL) -> list[Path]:
    """Write every file of the world under `out_dir` (the keys of
    docs/formats.md#keys-and-delivery-times as relative paths).

    Months are built one at a time and not kept, so a large world streams through memory.
    Returns the written paths in a stable order."""
    out_dir = Path(out_dir)
    cfg = world.config
    written: list[Path] = []
    statements = []
    for month in world.billed_months:
        lines = world.bill_lines.build(month)
        path = out_dir / bill_archive_key(month)
        write_csv_archive(path, _csv_members(lines, cfg.member_rows, cfg.header_language, cfg.bill_type_language,
                                             cfg.utf8_bom, lambda seq, m=month: bill_member_name(m, seq)),
                          mtime=_bill_delivery_time(month), compresslevel=compresslevel)
        written.append(path)
        # The statement comes from the lines at hand, so a large month is not built twice.
        statements.append((incentive_statement_key(month),
                           world.incentive_statement(month, lines).rename(INCENTIVE_STATEMENT_HEADERS)))
    for (month, export_date), frame in iter_usage_exports(world):
        path = out_dir / usage_archive_key(month, export_date)
        members = _csv_members(frame, cfg.member_rows, cfg.header_language, cfg.bill_type_language, cfg.utf8_bom,
                               lambda seq, m=month, d=export_date: usage_member_name(m, d, seq))
        write_csv_archive(path, members, mtime=_usage_export_time(export_date), compresslevel=compresslevel)
        written.append(path)
    for key, frame in ((CUSTOMER_DISCOUNTS_KEY, world.customer_discounts),
                       (INCENTIVE_RATES_KEY, world.incentive_rates), (CHART_OF_ACCOUNTS_KEY, chart_of_accounts()),
                       *statements):
        path = out_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(frame_to_csv(frame, bom=cfg.utf8_bom))
        written.append(path)
    path = out_dir / GROUND_TRUTH_KEY
    path.write_text(json.dumps(world.ground_truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    return written


def frame_to_csv(frame: pl.DataFrame, bom: bool = False) -> bytes:
    """CSV bytes in the house style: UTF-8, comma, quotes only where needed (RFC 4180 doubling),
    LF line ends, empty string for null, decimals as plain digits."""
    text = frame.write_csv(None, include_header=True, separator=",", quote_char='"', quote_style="necessary",
                           null_value="", line_terminator="\n").encode("utf-8")
    return _BOM + text if bom else text


def localise(frame: pl.DataFrame, header_language: str, bill_type_language: str = "en") -> pl.DataFrame:
    """Rename canonical columns to the file headers of `header_language`; optionally write bill
    types in Chinese."""
    if bill_type_language == "zh" and "bill_type" in frame.columns:
        frame = frame.with_columns(pl.col("bill_type").replace(BILL_TYPE_ZH))
    headers = header_names(header_language)
    return frame.rename({c: headers[c] for c in frame.columns if c in headers})


def _csv_members(frame: pl.DataFrame, member_rows: int, header_language: str, bill_type_language: str,
                 bom: bool, member_name: Callable[[int], str]) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(member name, function rendering its CSV bytes) for each slice of at most `member_rows` rows;
    an empty frame still yields one member with the header row."""
    localised = localise(frame, header_language, bill_type_language)
    count = max(1, -(-localised.height // member_rows))
    for index in range(count):
        part = localised.slice(index * member_rows, member_rows)
        yield member_name(index + 1), (lambda p=part: frame_to_csv(p, bom=bom))


def write_csv_archive(path: Path, members: Iterable[tuple[str, Callable[[], bytes]]], mtime: int,
                      compresslevel: int = DEFAULT_COMPRESSLEVEL) -> Path:
    """Write a deterministic .tar.gz of CSV members. The next member's CSV is rendered on a worker
    thread while the current one is compressed (polars and zlib both release the GIL)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.USTAR_FORMAT) as tar, \
            ThreadPoolExecutor(max_workers=1) as renderer:
        pending = None
        for name, render in members:
            upcoming = renderer.submit(render)
            if pending is not None:
                _add_member(tar, pending[0], pending[1].result(), mtime)
            pending = (name, upcoming)
        if pending is not None:
            _add_member(tar, pending[0], pending[1].result(), mtime)
    temporary.replace(path)  # never leave a half-written archive under the final name
    return path


def _add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _bill_delivery_time(month: str) -> int:
    """The monthly file arrives on the 5th of the next month, before noon GMT+8."""
    year, mon = parse_month(add_months(month, 1))
    return int(dt.datetime(year, mon, 5, 10, 0, tzinfo=_GMT8).timestamp())


def _usage_export_time(export_date: str) -> int:
    """Daily usage files are generated between 12:00 and 20:00 GMT+8."""
    day = dt.datetime.strptime(export_date, "%Y%m%d")
    return int(day.replace(hour=14, tzinfo=_GMT8).timestamp())


def chart_of_accounts() -> pl.DataFrame:
    """The sandbox partner's agreements/chart_of_accounts.csv (docs/formats.md#chart-of-accounts)."""
    return pl.DataFrame(SANDBOX_CHART_OF_ACCOUNTS, schema=["account", "account_code", "account_name"], orient="row")
