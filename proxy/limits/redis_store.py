"""Redis bucket store: one budget shared by every proxy replica.

Both scripts run atomically inside Redis and use Redis's clock, so replicas with
skewed clocks still agree. Any Redis failure raises `LimiterUnavailable`; the
limiter decides whether that fails closed (the default) or open.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.limits.bucket import BucketSpec, BucketState, Decision

# KEYS: bucket keys. ARGV: capacity, period, cost for each key.
# Returns {allowed, refused_index, retry_after, never, level_1, ..., level_n} (numbers as strings).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS
local levels = {}
for i = 1, n do
  local cap = tonumber(ARGV[(i-1)*3+1])
  local period = tonumber(ARGV[(i-1)*3+2])
  local h = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = cap
  if h[1] then
    level = math.min(cap, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * cap / period)
  end
  levels[i] = level
end
local out = {}
for i = 1, n do
  local cap = tonumber(ARGV[(i-1)*3+1])
  local period = tonumber(ARGV[(i-1)*3+2])
  local cost = tonumber(ARGV[(i-1)*3+3])
  if cost > cap then
    out = {'0', tostring(i), tostring(period), '1'}
  elseif levels[i] < cost then
    out = {'0', tostring(i), tostring((cost - levels[i]) * period / cap), '0'}
  end
  if #out > 0 then
    for j = 1, n do out[#out+1] = tostring(levels[j]) end
    return out
  end
end
out = {'1', '0', '0', '0'}
for i = 1, n do
  local period = tonumber(ARGV[(i-1)*3+2])
  local left = levels[i] - tonumber(ARGV[(i-1)*3+3])
  redis.call('HSET', KEYS[i], 'l', tostring(left), 't', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.floor(period * 2000))
  out[#out+1] = tostring(left)
end
return out
"""

# KEYS: bucket keys. ARGV: capacity, period, delta for each key (delta > 0 charges more).
_ADJUST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i-1)*3+1])
  local period = tonumber(ARGV[(i-1)*3+2])
  local delta = tonumber(ARGV[(i-1)*3+3])
  local h = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = cap
  if h[1] then
    level = math.min(cap, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * cap / period)
  end
  redis.call('HSET', KEYS[i], 'l', tostring(math.min(cap, level - delta)), 't', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.floor(period * 2000))
end
return 1
"""


class LimiterUnavailable(Exception):
    """The shared limiter store could not be reached."""


class RedisBucketStore:
    def __init__(self, url: str, *, prefix: str = "teecube:rl:", timeout: float = 0.5) -> None:
        self._redis = aioredis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._prefix = prefix
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._adjust = self._redis.register_script(_ADJUST)

    def _args(self, items: list[tuple[BucketSpec, int]]) -> tuple[list[str], list[str]]:
        keys = [self._prefix + spec.key for spec, _ in items]
        argv: list[str] = []
        for spec, amount in items:
            argv += [str(spec.capacity), str(spec.period), str(amount)]
        return keys, argv

    async def acquire(self, costs: list[tuple[BucketSpec, int]]) -> Decision:
        keys, argv = self._args(costs)
        try:
            raw = await self._acquire(keys=keys, args=argv)
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(type(exc).__name__) from None
        vals = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
        allowed, refused, wait, never = vals[0] == "1", int(vals[1]), float(vals[2]), vals[3] == "1"
        states = []
        for (spec, _), level in zip(costs, vals[4:], strict=True):
            left = float(level)
            states.append(BucketState(spec, left, max(0.0, (spec.capacity - left) / spec.rate)))
        return Decision(
            allowed,
            states,
            retry_after=wait,
            never=never,
            refused=costs[refused - 1][0] if refused else None,
        )

    async def adjust(self, deltas: list[tuple[BucketSpec, int]]) -> None:
        if not deltas:
            return
        keys, argv = self._args(deltas)
        try:
            await self._adjust(keys=keys, args=argv)
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(type(exc).__name__) from None

    async def close(self) -> None:
        await self._redis.aclose()
