"""The operator listener: Prometheus `/metrics`, never on the tenant port.

The metrics name every domain, its aliases and its traffic, so they are served on a separate
listener (`--metrics-host`/`--metrics-port`, loopback by default). `/metrics` asks for a bearer
(`Authorization: Bearer <token>`; wrong tokens are throttled per address):

* the metrics token (`--metrics-token-file`) when there is one: it opens GET /metrics and nothing
  else (no other listener knows it), and the operator token is then refused here, so the admin
  credential never has to travel to a scraper over this plain-HTTP listener and this listener is
  no oracle for it;
* else the operator token, as before there was a metrics token;
* else nothing, and the listener may only bind a loopback address.
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
_TOKEN = web.AppKey("metrics_bearer", str)
_CODE = web.AppKey("metrics_bearer_kind", str)
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
            kind = request.app[_CODE]
            raise ApiError(401, f"Invalid {kind} token.", code=f"invalid_{kind}_token")
    body = request.app[_METRICS].render()
    if inspect.isawaitable(body):  # a supervisor's WorkerMetrics asks its workers
        body = await body
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_metrics_app(metrics: ProxyMetrics | WorkerMetrics, operator_token: str | None, host: str,
                       *, metrics_token: str | None = None, auth_failure_limit: int = 30) -> web.Application:
    if not (metrics_token or operator_token) and not is_loopback(host):
        raise ValueError("the metrics listener binds a non-loopback address only with a metrics "
                         "or operator token")
    app = web.Application(middlewares=[error_middleware], client_max_size=1024)
    app[_METRICS] = metrics
    # One bearer opens /metrics: the metrics token where there is one, else the operator token.
    app[_TOKEN] = metrics_token or operator_token or ""
    app[_CODE] = "metrics" if metrics_token else "operator"
    app[_THROTTLE] = FailureThrottle(limit=auth_failure_limit)
    app.router.add_get("/metrics", _metrics)
    drop_server_banner(app)
    return app
