"""Engine flags on `teecube serve`: whatever serve does not know goes to the engine it starts
(`--max-num-seqs`, `-tp`, `--gpu-memory-utilization`, `--max-model-len`, `--load-format`, ...).

They are checked against the engine's own parser before anything loads, so a typo fails in a
second, not after a model load. Serve owns the engine's socket, key and names, so the flags
that would change those are refused here.
"""

from __future__ import annotations

from typing import NoReturn

# serve sets these itself: the engine listens on a private socket with a key serve generates
OWNED_BY_SERVE = ("--uds", "--host", "--port", "--api-key", "--model", "--served-model-name", "--device")
# requests allowed to wait beyond --max-num-seqs before the engine answers 503 (a bounded queue)
DEFAULT_MAX_QUEUE_SIZE = 512


class EngineFlagError(ValueError):
    pass


def _flag_name(token: str) -> str:
    return token.split("=", 1)[0]


def engine_flags(extra: list[str]) -> list[str]:
    """Validate the flags serve forwards; add the bounded queue unless one was given."""
    owned = [t for t in extra if _flag_name(t) in OWNED_BY_SERVE]
    if owned:
        raise EngineFlagError(f"{', '.join(owned)}: set by teecube serve itself, not forwarded to the engine")
    from engine.cli import build_parser

    parser = build_parser()

    def refuse(message: str) -> NoReturn:
        raise EngineFlagError(f"not a teecube serve or engine flag: {message}")

    parser.error = refuse  # type: ignore[method-assign]
    args = parser.parse_args(["--model", "bundled", *extra])
    if args.model_tag is not None:  # the engine's positional MODEL: serve names the model itself
        refuse(f"{args.model_tag!r} (a stray argument; serve's --model names the model)")
    if not any(_flag_name(t) == "--max-queue-size" for t in extra):
        extra = [*extra, "--max-queue-size", str(DEFAULT_MAX_QUEUE_SIZE)]
    return extra
