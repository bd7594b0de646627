"""Dagster resources: where files come from, the warehouse file, where reports go.

Settings arrive through Dagster `EnvVar` (see `resources_from_env` in pipelines/settings.py), resolved at
run time; secrets are never read at import and never logged. With partners.toml, a resource serves any
of its accounts: each run gets a copy for the account of its partition (`AccountResource`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Self

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines.lib.bss import BssConnection, RetryPolicy
from pipelines.lib.failures import describe
from pipelines.lib.holds import HoldThresholds
from pipelines.lib.lakehouse import LakeSettings
from pipelines.lib.lease import WarehouseLease, hold_lease
from pipelines.lib.object_store import (
    BILLRECON_S3,
    InboxObjectStore,
    ObjectStore,
    PrefixedObjectStore,
    S3ObjectStore,
    S3Settings,
    normalise_prefix,
)
from pipelines.lib.partners import Partner, PartnersConfigError, read_partners_file
from pipelines.lib.publish import (
    PublishedSnapshotWritten,
    default_published_path,
    remove_abandoned_copies,
    writing_the_snapshot,
)
from pipelines.lib.staging import SPOOL_PREFIX, MemberLimits
from pipelines.lib.warehouse import HeldOpen, connect, ensure_schema
from pipelines.partitions import PARTNER_TAG
from reports.files import remove_abandoned_temp_files
from schemas.bill_cycle import BillCycle
from schemas.memory import DEFAULT_MEMORY_LIMIT, duckdb_memory_limit


@contextlib.contextmanager
def expected_failures(folders: Mapping[str | Path, str] | None = None) -> Iterator[None]:
    """Turn a failure the user can act on (disk full, a folder that cannot be written, an outdated
    warehouse, …) into a dg.Failure whose description is the one line that says so; the original
    exception stays attached as its cause, with its trace, for the log. `folders`: output folders the
    user chose, each with the setting that chose it (`failures.describe`)."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        line = describe(exc, folders)
        if line is None:
            raise
        raise dg.Failure(description=line) from exc


def account_file(path: str, partner_id: str) -> str:
    """The account's own file beside `path`: warehouse/billrecon.duckdb -> warehouse/<id>/billrecon.duckdb."""
    return str(Path(path).parent / partner_id / Path(path).name)


def account_folder(path: str, partner_id: str) -> str:
    """The account's own folder under `path`: reports/out -> reports/out/<id>."""
    return str(Path(path) / partner_id)


class AccountResource(dg.ConfigurableResource):
    """A resource whose sources or paths belong to one partner account. Without partners.toml the
    definitions hold the one account's resource as configured. With it (`partners_file`), they hold the
    BILLRECON_* settings, and each run is given a copy for the account of its partition
    (`for_account`): the account's entry is read when the run starts, its keys from the variables the
    entry names, so an account's sources and folders are never another's."""

    partners_file: str | None = None  # BILLRECON_PARTNERS_FILE

    def for_account(self, partner_id: str) -> Self:
        """This resource for one account of partners.toml (itself without the file)."""
        if not self.partners_file:
            return self
        try:
            partner = next((p for p in read_partners_file(Path(self.partners_file)) if p.id == partner_id), None)
        except PartnersConfigError as exc:
            raise dg.Failure(description=str(exc)) from None
        if partner is None:
            raise dg.Failure(description=f"{partner_id!r} is no longer an account of {self.partners_file}: reload "
                                         "the code location (its partitions list the file's accounts when it loads)")
        return self._for_partner(partner)

    def _for_partner(self, partner: Partner) -> Self:
        return self.model_copy(update=self._account_values(partner))

    def _account_values(self, partner: Partner) -> dict:
        """The fields that differ for `partner`."""
        raise NotImplementedError

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Self]:
        """Set up and hand out the resource of the run's account (outside a run, e.g. in a sensor, itself)."""
        run = context.dagster_run
        partner_id = run.tags.get(PARTNER_TAG) if run is not None else None
        resource = self.for_account(partner_id) if partner_id else self
        resource.setup_for_execution(context)
        try:
            yield resource
        finally:
            resource.teardown_after_execution(context)


class ObjectStoreResource(AccountResource):
    """The partner's OBS bucket over the S3 API, or a local inbox folder with the same key layout."""

    endpoint_url: str | None = None
    bucket: str = "billrecon"
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "ap-southeast-1"
    inbox_dir: str | None = None
    prefix: str = ""  # the account's folder in a shared bucket; every key listed or read is under it
    # with partners.toml: the variables the account's entry names for its keys, for the line of a refusal
    # (not a field: the keys are read from them when the run starts, and a field would be configurable)
    _key_variables: tuple[str, str] | None = PrivateAttr(default=None)

    def store(self) -> ObjectStore:
        store = self._whole_store()
        return PrefixedObjectStore(store, self.prefix) if normalise_prefix(self.prefix) else store

    def _whole_store(self) -> ObjectStore:
        if self.inbox_dir:
            return InboxObjectStore(self.inbox_dir, setting=self._setting("inbox", "BILLRECON_INBOX_DIR"))
        if not self.endpoint_url:
            raise dg.Failure(
                "no file source configured: set BILLRECON_INBOX_DIR to a folder, or BILLRECON_S3_ENDPOINT "
                "(with BILLRECON_S3_BUCKET, BILLRECON_S3_ACCESS_KEY, BILLRECON_S3_SECRET_KEY) to the bucket"
            )
        return S3ObjectStore(self.endpoint_url, self.bucket, self.access_key or "", self.secret_key or "",
                             self.region, settings=self._s3_settings())

    def _setting(self, field: str, variable: str) -> str:
        """Where the user sets the source's `field`: the account's entry in partners.toml, else `variable`."""
        return f"the {field} of [partner.files] in {self.partners_file}" if self.partners_file else variable

    def _s3_settings(self) -> S3Settings:
        """Where the user sets the bucket's endpoint, name and keys: an account's keys are in the variables
        its entry names."""
        if not self.partners_file:
            return BILLRECON_S3
        entry = f"[partner.files] in {self.partners_file}"
        access, secret = self._key_variables or ("the access_key_env variable", "the secret_key_env variable")
        return S3Settings(f"the endpoint of {entry}", f"the bucket of {entry}", access, secret,
                          f"{access} and {secret} (the keys of {entry})")

    def _for_partner(self, partner: Partner) -> Self:
        account = super()._for_partner(partner)
        if partner.files.access_key_env and partner.files.secret_key_env:
            account._key_variables = (partner.files.access_key_env, partner.files.secret_key_env)
        return account

    def _account_values(self, partner: Partner) -> dict:
        """The account's [partner.files], instead of every BILLRECON_* source setting; its keys are read
        from the variables it names now, at run time."""
        files = partner.files
        defaults = {field: ObjectStoreResource.model_fields[field].default
                    for field in ("endpoint_url", "bucket", "access_key", "secret_key", "region", "inbox_dir")}
        if files.inbox:
            return {**defaults, "inbox_dir": files.inbox, "prefix": files.prefix}
        return {**defaults, "endpoint_url": files.endpoint, "bucket": files.bucket, "region": files.region,
                "prefix": files.prefix, "access_key": os.environ.get(files.access_key_env or ""),
                "secret_key": os.environ.get(files.secret_key_env or "")}

    def describe(self) -> str:
        under = f" under {normalise_prefix(self.prefix)}" if normalise_prefix(self.prefix) else ""
        where = f"inbox folder {self.inbox_dir}" if self.inbox_dir else f"bucket {self.bucket} at {self.endpoint_url}"
        return where + under


class WarehouseResource(AccountResource):
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

    _lease_hold: contextlib.ExitStack | None = PrivateAttr(default=None)
    _lease: WarehouseLease | None = PrivateAttr(default=None)
    # set by the run's setup once it has checked the schema: the ~80 steps of a run skip the check
    _schema_checked: bool = PrivateAttr(default=False)
    # the working file held open by the run from its first step to its last (`release_file`)
    _held: HeldOpen | None = PrivateAttr(default=None)

    def _account_values(self, partner: Partner) -> dict:
        """The account's own working file, published copy and landing folder."""
        values = {"path": account_file(self.path, partner.id)}
        if self.published_path:
            values["published_path"] = account_file(self.published_path, partner.id)
        if self.landing_dir:
            values["landing_dir"] = account_folder(self.landing_dir, partner.id)
        return values

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run holds the warehouse lease from before its first step to after its last (one writer
        at a time), then checks the warehouse once, so an outdated file fails the run once rather
        than every step (the steps' connections skip the check); files a killed run left behind are
        removed while the lease is held. The run holds the file open meanwhile (`HeldOpen`): each
        step's connection joins it instead of opening and checkpointing the file again."""
        hold = contextlib.ExitStack()
        with expected_failures():
            problem = writing_the_snapshot(Path(self.path), self.published)
            if problem:  # before the lease: its file would be created beside the snapshot
                raise PublishedSnapshotWritten(problem)
            try:
                self._lease = hold.enter_context(hold_lease(
                    self.path, self.lease_timeout_seconds,
                    on_wait=lambda holder: context.log.info(f"waiting for {holder.describe()} to finish writing "
                                                            f"{self.path} (up to {self.lease_timeout_seconds} s)")))
                self._remove_abandoned_files()
                # the steps' connections join this one (closed before the lease is let go: in reverse)
                self._held = HeldOpen(self.path, memory_limit=duckdb_memory_limit(self.memory_limit),
                                      threads=self.threads)
                hold.callback(self.release_file)
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

    def release_file(self) -> None:
        """Stop holding the working file open between steps (checkpointing it), so that another
        database of this process may open it: the lake publish attaches it read-only."""
        held, self._held = self._held, None
        if held is not None:
            held.close()

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
        return default_published_path(Path(self.path))

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
            with self._held.step() if self._held is not None else contextlib.nullcontext():
                con = connect(self.path, memory_limit=duckdb_memory_limit(self.memory_limit), threads=self.threads)
                try:
                    if not self._schema_checked:
                        ensure_schema(con)
                    yield con
                finally:
                    con.close()


class ReportsResource(AccountResource):
    """Where the month-close packs are written: `<out_dir>/<bill_cycle>/`."""

    out_dir: str = "reports/out"
    # 1: a closed month's pack also holds its two FOCUS 1.2 Parquet files (docs/focus.md). Off by
    # default: at ten million lines they would cost a large part of the month close (bench/README.md);
    # `billrecon export focus` writes them on request, and `billrecon demo` turns this on.
    focus_exports: int = 0

    def _account_values(self, partner: Partner) -> dict:
        return {"out_dir": account_folder(self.out_dir, partner.id)}

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


class BssApiResource(AccountResource):
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

    def _account_values(self, partner: Partner) -> dict:
        """The account's [partner.bss] (none: the API-fed parts are skipped), its keys read from the
        variables it names now, at run time."""
        bss = partner.bss
        if bss is None:
            return {"endpoint": None, "access_key": None, "secret_key": None, "domain_id": None}
        return {"endpoint": bss.endpoint, "access_key": os.environ.get(bss.access_key_env),
                "secret_key": os.environ.get(bss.secret_key_env),
                "domain_id": os.environ.get(bss.domain_id_env) if bss.domain_id_env else bss.domain_id}

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
