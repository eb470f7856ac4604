"""Typed application state shared by the proxy's route modules."""

from __future__ import annotations

from aiohttp import web

from proxy.auth import Authenticator
from proxy.auth.failures import FailureThrottle
from proxy.config import ProxyConfig
from proxy.directory import Directory
from proxy.forward.upstream import UpstreamPool
from proxy.guard import Guards
from proxy.limits import Limiter
from proxy.metrics import ProxyMetrics
from proxy.usage import UsageWriter

CONFIG = web.AppKey("config", ProxyConfig)
DIRECTORY = web.AppKey("directory", Directory)
AUTH = web.AppKey("auth", Authenticator)
LIMITER = web.AppKey("limiter", Limiter)
POOL = web.AppKey("pool", UpstreamPool)
USAGE = web.AppKey("usage", UsageWriter)
METRICS = web.AppKey("metrics", ProxyMetrics)
GUARDS = web.AppKey("guards", Guards)
OPERATOR_THROTTLE = web.AppKey("operator_throttle", FailureThrottle)
ATTESTATION_LIMIT = web.AppKey("attestation_limit", FailureThrottle)  # requests per address a minute
