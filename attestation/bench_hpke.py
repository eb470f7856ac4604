"""What encrypted requests cost per request and per streamed event, as JSON.

    python -m attestation.bench_hpke [--body-bytes 4096] [--events 200] [--rounds 200]

Measures the client's seal, the proxy's open (HPKE setup + AES-128-GCM), a sealed JSON answer
and sealed SSE events (one frame each), on this machine's CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from attestation import hpke_wire
from attestation.hpke import KeyPair


def _per_call_us(fn: Callable[[], object], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m attestation.bench_hpke")
    p.add_argument("--body-bytes", type=int, default=4096)
    p.add_argument("--events", type=int, default=200)
    p.add_argument("--rounds", type=int, default=200)
    args = p.parse_args(argv)
    key = KeyPair.generate()
    body = b"x" * args.body_bytes
    event = b'data: {"choices":[{"delta":{"content":"token"}}]}\n\n'
    path = "/v1/chat/completions"

    def seal() -> tuple[dict[str, str], bytes, hpke_wire.ResponseOpener]:
        return hpke_wire.seal_request(key.public_bytes, "POST", path, body)

    def open_one() -> None:
        headers, sealed, _ = seal()
        hpke_wire.open_request(key.private, key.public_bytes, "POST", path, headers, sealed,
                               hpke_wire.ReplayGuard())

    headers, sealed, _ = seal()
    _, sealer = hpke_wire.open_request(key.private, key.public_bytes, "POST", path, headers, sealed,
                                       hpke_wire.ReplayGuard())
    seal_us = _per_call_us(seal, args.rounds)
    result = {
        "bench": "hpke",
        "suite": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM",
        "body_bytes": args.body_bytes,
        "client_seal_request_us": round(seal_us, 1),
        "proxy_open_request_us": round(_per_call_us(open_one, args.rounds) - seal_us, 1),
        "seal_json_answer_us": round(_per_call_us(lambda: sealer.seal_body(200, body), args.rounds), 1),
        "seal_sse_event_us": round(_per_call_us(lambda: sealer.seal_event(200, event), args.events), 2),
        "sse_event_bytes_plain": len(event),
        "sse_event_bytes_sealed": len(sealer.seal_event(200, event)),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
