"""Stand-ins for HUAWEI CLOUD on a laptop: a synthetic partner world, its files, and a local S3 server.

The sandbox produces the files of docs/formats.md and never imports the pipeline
(docs/architecture.md#the-sandbox-and-its-seal).
"""

from typing import Any

from .formats import BILL_LINE_COLUMNS, MONEY_COLUMNS, PAYMENT_COLUMNS, USAGE_COLUMNS, header_names
from .world import LazyFrames, World, WorldConfig, generate_world, iter_usage_exports
from .writer import write_world

_OBJECT_STORE = ("LocalS3Server", "make_s3_client", "upload_tree")


def __getattr__(name: str) -> Any:
    # The object store pulls in moto and boto3 (slow to import); load it only when asked for.
    if name in _OBJECT_STORE:
        from . import objectstore

        return getattr(objectstore, name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")


__all__ = [
    "BILL_LINE_COLUMNS",
    "MONEY_COLUMNS",
    "PAYMENT_COLUMNS",
    "USAGE_COLUMNS",
    "LazyFrames",
    "LocalS3Server",
    "World",
    "WorldConfig",
    "generate_world",
    "header_names",
    "iter_usage_exports",
    "make_s3_client",
    "upload_tree",
    "write_world",
]
