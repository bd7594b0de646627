"""The BSS partner API emulator: HUAWEI CLOUD's partner billing API on 127.0.0.1, serving a
generated world through the real paths, SDK-HMAC-SHA256 signing, paging, throttling and faults.

    from sandbox import generate_world
    from sandbox.bss import BssEmulator, FaultConfig

    with BssEmulator(generate_world()) as bss:
        ...  # point the official SDK at bss.endpoint_url with bss.access_key / secret_key / domain_id

The served records come from `world.api_data` (sandbox/api_data.py).
"""

from .calls import Route
from .gateway import DOCUMENTED_ROUTE_RATES, FaultConfig, ThrottleConfig
from .routes import ROUTES, ROUTES_BY_NAME
from .server import BssEmulator

__all__ = ["DOCUMENTED_ROUTE_RATES", "ROUTES", "ROUTES_BY_NAME", "BssEmulator", "FaultConfig", "Route",
           "ThrottleConfig"]
