"""A real S3 server on 127.0.0.1 (moto's server mode) standing in for HUAWEI OBS, and the boto3
client settings that work against both.

moto keeps its buckets in process-global memory: two servers started in one process see the same
buckets, and everything is gone when the process ends.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

REGION = "ap-southeast-1"  # OBS file subscription works only with a bucket in CN-Hong Kong
DEFAULT_ACCESS_KEY = "SANDBOXACCESSKEY0001"
DEFAULT_SECRET_KEY = "sandbox-secret-key-not-a-real-secret"
# Single-part uploads up to this size, so an object's ETag is the MD5 of its bytes.
_MULTIPART_THRESHOLD = 64 * 1024 * 1024


class LocalS3Server:
    """moto's S3 server on 127.0.0.1 at a free port. Use as a context manager or start()/stop().

    moto accepts any access key and secret key; `access_key`/`secret_key` are the defaults the
    sandbox hands to clients. Told to check them (POST /moto-api/reset-auth), it answers as OBS would to
    wrong keys (tests/integration/test_s3_refusals.py)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 access_key: str = DEFAULT_ACCESS_KEY, secret_key: str = DEFAULT_SECRET_KEY):
        self.host = host
        self.access_key = access_key
        self.secret_key = secret_key
        self._requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> LocalS3Server:
        """Listen, then serve in a thread. A port that cannot be had raises its OSError here (moto's own
        ThreadedMotoServer binds in its thread, where werkzeug prints the error and exits the thread,
        and its start() then waits for ever)."""
        if self._server is not None:
            return self
        # werkzeug logs every request at INFO even with verbose=False; the demo's output is for people
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with socket.create_server((self.host, self._requested_port)) as listener:  # port 0: a free one
            # werkzeug serves on its own copy of the listening socket
            self._server = make_server(self.host, self._requested_port, DomainDispatcherApplication(create_backend_app),
                                       threaded=True, request_handler=MotoRequestHandler, fd=listener.fileno())
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def client(self) -> BaseClient:
        """A boto3 S3 client for this server."""
        return make_s3_client(self.endpoint_url, self.access_key, self.secret_key)

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def make_s3_client(endpoint_url: str, access_key: str, secret_key: str) -> BaseClient:
    """A boto3 S3 client as the pipeline uses it against OBS: path-style addressing, region
    ap-southeast-1, and checksums only where the API requires them (recent botocore adds CRC
    checksum headers by default, which S3-compatible stores do not all accept)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


def ensure_bucket(client: BaseClient, bucket: str) -> None:
    """Create `bucket` unless it exists already."""
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def upload_tree(client: BaseClient, bucket: str, root: Path, prefix: str = "") -> list[str]:
    """Upload every file below `root` with key = `prefix` + its path relative to root (POSIX
    separators); a prefix such as `acme/` puts one partner account's files beside another's.

    Creates the bucket if missing. Returns the keys in sorted order."""
    root = Path(root)
    ensure_bucket(client, bucket)
    transfer = TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD)
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(root).as_posix()
        client.upload_file(str(path), bucket, key, Config=transfer)
        keys.append(key)
    return keys
