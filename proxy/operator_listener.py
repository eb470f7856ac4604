"""The operator listener: Prometheus `/metrics`, never on the tenant port.

The metrics name every domain, its aliases and its traffic, so they are served on a separate
listener (`--metrics-host`/`--metrics-port`, loopback by default). When the proxy has an
operator token, `/metrics` asks for it (`Authorization: Bearer <token>`; wrong tokens are
throttled per address); without one, the listener may only bind a loopback address.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.auth import bearer_token, client_address, raise_if_throttled
from proxy.auth.failures import FailureThrottle
from proxy.errors import ApiError, error_middleware
from proxy.listener import drop_server_banner
from proxy.metrics import ProxyMetrics
from proxy.metrics_merge import WorkerMetrics

_METRICS = web.AppKey("metrics", ProxyMetrics | WorkerMetrics)
_TOKEN = web.AppKey("operator_token", str)
_THROTTLE = web.AppKey("throttle", FailureThrottle)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _metrics(request: web.Request) -> web.Response:
    token = request.app[_TOKEN]
    if token:
        presented = bearer_token(request) or ""
        if not hmac.compare_digest(presented.encode(), token.encode()):
            throttle = request.app[_THROTTLE]
            await throttle.failed(client_address(request))
            await raise_if_throttled(throttle, client_address(request))
            raise ApiError(401, "Invalid operator token.", code="invalid_operator_token")
    body = request.app[_METRICS].render()
    if inspect.isawaitable(body):  # a supervisor's WorkerMetrics asks its workers
        body = await body
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_metrics_app(metrics: ProxyMetrics | WorkerMetrics, operator_token: str | None, host: str,
                       *, auth_failure_limit: int = 30) -> web.Application:
    if not operator_token and not is_loopback(host):
        raise ValueError("the metrics listener binds a non-loopback address only with an operator token")
    app = web.Application(middlewares=[error_middleware], client_max_size=1024)
    app[_METRICS] = metrics
    app[_TOKEN] = operator_token or ""
    app[_THROTTLE] = FailureThrottle(limit=auth_failure_limit)
    app.router.add_get("/metrics", _metrics)
    drop_server_banner(app)
    return app
