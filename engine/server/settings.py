"""`ServerConfig`: the HTTP side of `teecube engine` (the engine's own settings live in EngineConfig)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# Requests allowed to wait beyond max_num_seqs; more get 503 with Retry-After (bounded by default:
# an unbounded queue lets one burst hold memory and every later request's latency).
DEFAULT_MAX_QUEUE_SIZE = 1024


@dataclass(slots=True)
class ServerConfig:
    served_model_names: list[str] = field(default_factory=list)  # empty: the engine's served_model_name
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    api_key: str | None = field(default=None, repr=False)  # the bearer: never in a repr, log or traceback
    max_queue_size: int | None = DEFAULT_MAX_QUEUE_SIZE  # beyond max_num_seqs; None: unbounded
    max_request_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    shutdown_timeout: float = 30.0
    retry_after_s: int = 1
    ssl_context: ssl.SSLContext | None = None  # --ssl-keyfile/--ssl-certfile: serve HTTPS
    # serving features (engine/server/features.py); None: what the EngineConfig says
    tool_call_parser: str | None = None
    enable_auto_tool_choice: bool | None = None
    reasoning_parser: str | None = None
    task: str | None = None  # "generate" or "embed"
    max_embedding_inputs: int = 2048
