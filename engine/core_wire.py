"""What the server process and its engine core process (engine/core_process.py) send each other.

Every message is one pickle (protocol 5) of a tuple whose first item names it. Requests are known to
the core by an integer handle the client assigns, so a step's tokens travel as one flat array of
int64 (handle, sequence index, token id, finish code, cached tokens) per token; only the rare
extras (logprobs, a stop token id, prompt logprobs) are pickled per token.

server -> core: ADD (handle, prompt ids as int32 bytes, params without their logits processor,
  the grammar spec or None, arrival time); POOL (handle, input ids as int32 bytes, arrival time: an
  embedding engine's request); ABORT (handle or -1, ack number); STOP (pairs of
  (handle, index) a stop string stopped, ack number); SHUTDOWN.
core -> server: READY (spec, max_model_len, tokenizer, stats, async scheduling, pooling config or None)
  or FAILED (error); STEP (token array, extras, pooled vectors, first-scheduled times, errors of refused
  requests, acks, stats), one per
  step and one after commands that changed something while idle; DEAD (why the step loop died).
"""

from __future__ import annotations

import pickle
from array import array
from dataclasses import astuple
from typing import Any

import torch

from engine import errors
from engine.outputs import EngineStats, PoolingOutput, TokenOutput

ADD, POOL, ABORT, STOP, SHUTDOWN = "add", "pool", "abort", "stop", "shutdown"
READY, FAILED, STEP, DEAD = "ready", "failed", "step", "dead"

FINISH_CODES: dict[str | None, int] = {None: 0, "stop": 1, "length": 2, "abort": 3}
FINISH_REASONS: list[str | None] = [None, "stop", "length", "abort"]
FIELDS = 5  # int64s per token


def dumps(message: tuple[Any, ...]) -> bytes:
    return pickle.dumps(message, protocol=5)


def loads(data: bytes) -> tuple[Any, ...]:
    # both ends are this server and the core process it spawned, over a private socket pair
    return pickle.loads(data)  # noqa: S301


def pack_tokens(outputs: list[TokenOutput]) -> tuple[bytes, list[tuple[int, Any, Any]]]:
    """(the flat int64 array, [(position, logprobs, stop_reason, prompt logprobs)] for tokens that have
    any of them)."""
    flat = array("q")
    extras = []
    for i, o in enumerate(outputs):
        flat.extend((o.request_id, o.index, o.token_id, FINISH_CODES[o.finish_reason], o.num_cached_tokens))  # type: ignore[arg-type]
        if o.logprobs is not None or o.stop_reason is not None or o.prompt_logprobs is not None:
            extras.append((i, o.logprobs, o.stop_reason, o.prompt_logprobs))
    return flat.tobytes(), extras


def unpack_tokens(data: bytes) -> list[int]:
    flat = array("q")
    flat.frombytes(data)
    return flat.tolist()


Pooled = tuple[bytes, bytes] | None  # (int64 handles, float32 vectors [n, H]) of a pooling step


def pack_pooled(outputs: list[PoolingOutput]) -> Pooled:
    if not outputs:
        return None
    handles = array("q", [o.request_id for o in outputs])  # handles: the core's request ids here
    vectors = torch.stack([o.embedding for o in outputs]).float().numpy()
    return handles.tobytes(), vectors.tobytes()


def unpack_pooled(pooled: tuple[bytes, bytes]) -> list[tuple[int, torch.Tensor]]:
    handles = array("q")
    handles.frombytes(pooled[0])
    vectors = torch.frombuffer(bytearray(pooled[1]), dtype=torch.float32).view(len(handles), -1)
    return list(zip(handles.tolist(), vectors, strict=True))


def pack_ids(ids: list[int]) -> bytes:
    return array("i", ids).tobytes()


def unpack_ids(data: bytes) -> list[int]:
    ids = array("i")
    ids.frombytes(data)
    return ids.tolist()


def stats_tuple(stats: EngineStats) -> tuple[Any, ...]:
    return astuple(stats)


def stats_from(values: tuple[Any, ...]) -> EngineStats:
    return EngineStats(*values)


def encode_error(exc: BaseException) -> tuple[str, str | None, str]:
    """(class name, param, message): engine errors are rebuilt by class; InvalidParam's fields do not
    survive a plain pickle (its constructor takes two arguments)."""
    return type(exc).__name__, getattr(exc, "param", None), getattr(exc, "message", str(exc))


def decode_error(encoded: tuple[str, str | None, str], context: str) -> Exception:
    name, param, message = encoded
    if name == "InvalidParam" and param is not None:
        return errors.InvalidParam(param, message)
    cls = getattr(errors, name, None)
    plain = name not in ("InvalidParam", "ContextLengthExceeded")  # constructors with other arguments
    if plain and isinstance(cls, type) and issubclass(cls, errors.EngineError):
        return cls(message)
    if name == "ValueError":
        return ValueError(message)
    return errors.EngineError(f"{context}: {name}: {message}")
