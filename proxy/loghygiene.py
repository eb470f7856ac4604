"""Logs that never carry raw request bytes and cannot be flooded.

aiohttp's server, access and web loggers (and asyncio's) format exceptions whose text quotes
what a client sent: a bad header byte, a broken chunked body, a request line with a key in it.
`install_log_hygiene()` puts a filter on those loggers that keeps only the record's fixed
message template and the exception's type name (never its arguments, text or traceback), and
drops records beyond a rate (counting them, and saying how many were dropped on the next line
let through). `RateLimitedLog` gives our own listener messages the same rate limit.
"""

from __future__ import annotations

import logging
import threading
import time

# Loggers whose records may quote request bytes (aiohttp.client: upstream answers).
RAW_DATA_LOGGERS = ("aiohttp.server", "aiohttp.access", "aiohttp.web", "aiohttp.internal", "aiohttp.client",
                    "aiohttp.websocket", "asyncio")


class RateGate:
    """A token bucket: `rate` records a second, bursts of `burst`; counts what it drops."""

    def __init__(self, rate: float = 20.0, burst: float = 100.0, clock=time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._level = burst
        self._last = clock()
        self._lock = threading.Lock()
        self.dropped = 0

    def allow(self) -> tuple[bool, int]:
        """(let this record through?, records dropped since the last one let through)."""
        with self._lock:
            now = self._clock()
            self._level = min(self.burst, self._level + (now - self._last) * self.rate)
            self._last = now
            if self._level < 1:
                self.dropped += 1
                return False, 0
            self._level -= 1
            dropped, self.dropped = self.dropped, 0
            return True, dropped


def _template(record: logging.LogRecord) -> str:
    msg = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    return msg.replace("%s", "-").replace("%r", "-").replace("%d", "-").replace("%", "%%")[:200]


class RawDataFilter(logging.Filter):
    def __init__(self, gate: RateGate) -> None:
        super().__init__()
        self.gate = gate

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_teecube_clean", False):
            return True  # already cleaned (a record passes each logger's filters once per logger)
        allowed, dropped = self.gate.allow()
        if not allowed:
            return False
        text = _template(record)
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}]"
        if dropped:
            text += f" ({dropped} similar records dropped)"
        record.msg, record.args = text, ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record._teecube_clean = True
        return True


_installed = False
_install_lock = threading.Lock()


def install_log_hygiene(gate: RateGate | None = None) -> None:
    """Idempotent: one filter (one shared rate) on every logger of `RAW_DATA_LOGGERS`."""
    global _installed
    with _install_lock:
        if _installed:
            return
        shared = RawDataFilter(gate or RateGate())
        for name in RAW_DATA_LOGGERS:
            logging.getLogger(name).addFilter(shared)
        _installed = True


class RateLimitedLog:
    """A logger wrapper whose messages share one rate limit (fixed templates only)."""

    def __init__(self, logger: logging.Logger, gate: RateGate | None = None) -> None:
        self.logger = logger
        self.gate = gate or RateGate()

    def _log(self, level: int, msg: str, *args: object) -> None:
        if not self.logger.isEnabledFor(level):
            return
        allowed, dropped = self.gate.allow()
        if allowed:
            suffix = f" ({dropped} similar records dropped)" if dropped else ""
            self.logger.log(level, msg + suffix, *args)

    def info(self, msg: str, *args: object) -> None:
        self._log(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        self._log(logging.WARNING, msg, *args)
