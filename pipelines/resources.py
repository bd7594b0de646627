"""Dagster resources: where files come from, the warehouse file, where reports go.

Settings arrive through Dagster `EnvVar` (see `resources_from_env` in pipelines/settings.py), resolved at
run time; secrets are never read at import and never logged.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines.lib.bss import BssConnection, RetryPolicy
from pipelines.lib.failures import describe
from pipelines.lib.holds import HoldThresholds
from pipelines.lib.lakehouse import LakeSettings
from pipelines.lib.lease import WarehouseLease, hold_lease
from pipelines.lib.object_store import (
    InboxObjectStore,
    ObjectStore,
    PrefixedObjectStore,
    S3ObjectStore,
    normalise_prefix,
)
from pipelines.lib.partners import DEFAULT_PARTNER_ID
from pipelines.lib.publish import remove_abandoned_copies
from pipelines.lib.staging import SPOOL_PREFIX, MemberLimits
from pipelines.lib.warehouse import connect, ensure_schema
from reports.files import remove_abandoned_temp_files
from schemas.bill_cycle import BillCycle
from schemas.memory import DEFAULT_MEMORY_LIMIT, duckdb_memory_limit


@contextlib.contextmanager
def expected_failures() -> Iterator[None]:
    """Turn a failure the user can act on (disk full, a folder that cannot be written, an outdated
    warehouse, …) into a dg.Failure whose description is the one line that says so; the original
    exception stays attached as its cause, with its trace, for the log."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        line = describe(exc)
        if line is None:
            raise
        raise dg.Failure(description=line) from exc


class ObjectStoreResource(dg.ConfigurableResource):
    """The partner's OBS bucket over the S3 API, or a local inbox folder with the same key layout."""

    endpoint_url: str | None = None
    bucket: str = "billrecon"
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "ap-southeast-1"
    inbox_dir: str | None = None
    prefix: str = ""  # the account's folder in a shared bucket; every key listed or read is under it

    def store(self) -> ObjectStore:
        store = self._whole_store()
        return PrefixedObjectStore(store, self.prefix) if normalise_prefix(self.prefix) else store

    def _whole_store(self) -> ObjectStore:
        if self.inbox_dir:
            return InboxObjectStore(self.inbox_dir)
        if not self.endpoint_url:
            raise dg.Failure(
                "no file source configured: set BILLRECON_INBOX_DIR to a folder, or BILLRECON_S3_ENDPOINT "
                "(with BILLRECON_S3_BUCKET, BILLRECON_S3_ACCESS_KEY, BILLRECON_S3_SECRET_KEY) to the bucket"
            )
        return S3ObjectStore(self.endpoint_url, self.bucket, self.access_key or "", self.secret_key or "",
                             self.region)

    def describe(self) -> str:
        under = f" under {normalise_prefix(self.prefix)}" if normalise_prefix(self.prefix) else ""
        where = f"inbox folder {self.inbox_dir}" if self.inbox_dir else f"bucket {self.bucket} at {self.endpoint_url}"
        return where + under


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the folder of landed source objects beside it."""

    path: str = "warehouse/billrecon.duckdb"
    landing_dir: str | None = None
    published_path: str | None = None
    # the whole process's budget; DuckDB's buffer manager gets its share (schemas/memory.py)
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    threads: int = 2
    max_member_bytes: int = 1 << 30
    max_member_rows: int = 5_000_000
    hold_max_line_drop_percent: int = HoldThresholds.max_line_drop_percent
    hold_max_customer_drop_percent: int = HoldThresholds.max_customer_drop_percent
    hold_max_lines_losing_agreement: int = HoldThresholds.max_lines_losing_agreement
    lease_timeout_seconds: int = 1800  # how long a run waits for the run that is writing the warehouse
    # with a DuckLake (BILLRECON_WAREHOUSE=ducklake:…), `path` is the partner's working file and the run
    # publishes its month to the lake instead of copying the file (pipelines/lib/lake_publish.py)
    lake: str | None = None
    lake_data_path: str | None = None
    lake_s3_endpoint: str | None = None
    lake_s3_access_key: str | None = None
    lake_s3_secret_key: str | None = None
    lake_s3_region: str | None = None
    partner_id: str = DEFAULT_PARTNER_ID  # the run's account: its site and currency, its rows in the lake

    _lease_hold: contextlib.ExitStack | None = PrivateAttr(default=None)
    _lease: WarehouseLease | None = PrivateAttr(default=None)
    # set by the run's setup once it has checked the schema: the ~80 steps of a run skip the check
    _schema_checked: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run holds the warehouse lease from before its first step to after its last (one writer
        at a time), then checks the warehouse once, so an outdated file fails the run once rather
        than every step (the steps' connections skip the check); files a killed run left behind are
        removed while the lease is held."""
        hold = contextlib.ExitStack()
        with expected_failures():
            try:
                self._lease = hold.enter_context(hold_lease(
                    self.path, self.lease_timeout_seconds,
                    on_wait=lambda holder: context.log.info(f"waiting for {holder.describe()} to finish writing "
                                                            f"{self.path} (up to {self.lease_timeout_seconds} s)")))
                self._remove_abandoned_files()
                with self.connect():
                    pass  # opening checks the file and its schema: an outdated warehouse fails here, once
                self._schema_checked = True  # no other writer while the lease is held: it stays checked
            except BaseException:
                hold.close()
                raise
        self._lease_hold = hold

    def _remove_abandoned_files(self) -> None:
        """What runs killed mid-write left beside the warehouse and the snapshot (no other writer
        runs while the lease is held)."""
        remove_abandoned_copies(self.published)
        # staging removes its spools too, but only a run that stages something gets there
        for spool in Path(self.path).parent.glob(SPOOL_PREFIX + "*"):
            shutil.rmtree(spool, ignore_errors=True)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lease_hold is not None:
            self._lease_hold.close()
            self._lease_hold = self._lease = None
        self._schema_checked = False

    def member_limits(self) -> MemberLimits:
        return MemberLimits(max_bytes=self.max_member_bytes, max_rows=self.max_member_rows)

    def hold_thresholds(self) -> HoldThresholds:
        return HoldThresholds(self.hold_max_line_drop_percent, self.hold_max_customer_drop_percent,
                              self.hold_max_lines_losing_agreement)

    @property
    def published(self) -> Path:
        """The read-only snapshot analysts open (default: <warehouse folder>/published/<file name>)."""
        if self.published_path:
            return Path(self.published_path)
        return Path(self.path).parent / "published" / Path(self.path).name

    def lake_settings(self) -> LakeSettings | None:
        """The lake the run publishes to; None: the published DuckDB copy."""
        if not self.lake:
            return None
        return LakeSettings.from_values(self.lake, self.lake_data_path, s3_endpoint=self.lake_s3_endpoint,
                                        s3_access_key=self.lake_s3_access_key, s3_secret_key=self.lake_s3_secret_key,
                                        s3_region=self.lake_s3_region)

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else Path(self.path).parent / "landing"

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The working warehouse; inside a run, only while the run still holds its lease."""
        with expected_failures():
            if self._lease is not None:
                self._lease.ensure_held()
            con = connect(self.path, memory_limit=duckdb_memory_limit(self.memory_limit), threads=self.threads)
            try:
                if not self._schema_checked:
                    ensure_schema(con)
                yield con
            finally:
                con.close()


class ReportsResource(dg.ConfigurableResource):
    """Where the month-close packs are written: `<out_dir>/<bill_cycle>/`."""

    out_dir: str = "reports/out"
    # 1: a closed month's pack also holds its two FOCUS 1.2 Parquet files (docs/focus.md). Off by
    # default: at ten million lines they would cost a large part of the month close (bench/README.md);
    # `billrecon export focus` writes them on request, and `billrecon demo` turns this on.
    focus_exports: int = 0

    @property
    def writes_focus(self) -> bool:
        return bool(self.focus_exports)

    def cycle_dir(self, bill_cycle: str) -> Path:
        """`<out_dir>/<YYYY-MM>/`; a ValueError for anything but a month, as it becomes a path."""
        return Path(self.out_dir) / str(BillCycle.parse(bill_cycle))

    def remove_abandoned_files(self) -> None:
        """Temporary files of report writers that were killed, in every cycle's folder (call under
        the warehouse lease, which every run writing reports holds)."""
        remove_abandoned_temp_files(Path(self.out_dir))


class BssApiResource(dg.ConfigurableResource):
    """The BSS partner API. Until an endpoint is configured, API-fed parts are skipped with a note.

    The keys arrive as EnvVar (BILLRECON_BSS_AK / _SK) and go only into the SDK's credentials: no
    message, log line, metadata entry or snapshot is ever built from them."""

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    domain_id: str | None = None
    timeout_seconds: int = 60          # read timeout of one call
    max_attempts: int = 6              # per call, the first try included
    max_retry_seconds: int = 300       # a call stops retrying once this much time has passed
    backoff_base_seconds: float = 0.5  # first retry waits about this long, then doubling (capped, jittered)
    page_size: int | None = None    # smaller pages than each dataset's documented maximum

    @property
    def configured(self) -> bool:
        return bool(self.endpoint)

    def connection(self) -> BssConnection:
        missing = [variable for variable, value in (("BILLRECON_BSS_AK", self.access_key),
                                                    ("BILLRECON_BSS_SK", self.secret_key),
                                                    ("BILLRECON_BSS_DOMAIN_ID", self.domain_id)) if not value]
        if missing:
            raise dg.Failure(f"BILLRECON_BSS_ENDPOINT is set but {', '.join(missing)} is not: the BSS API needs "
                             "the access key, the secret key and the partner's domain id")
        return BssConnection(self.endpoint, self.access_key, self.secret_key, self.domain_id,
                             read_timeout=float(self.timeout_seconds))

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base_seconds,
                           max_total_seconds=float(self.max_retry_seconds))
