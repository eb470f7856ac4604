"""Container health check: GET /health on this container's own port; exit 0 when it answers 200.

    python healthcheck.py [URL]     default https://127.0.0.1:$TEECUBE_PORT/health (port 8443)

The proxy's certificate is self-signed and its trust comes from attestation, not a CA, so
this local probe does not verify it: it only asks "is the process serving?". Clients must
still attest (`teecube verify`, `attestation.client.connect`). Standard library only.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request


def main(argv: list[str]) -> int:
    port = os.environ.get("TEECUBE_PORT", "8443")
    scheme = os.environ.get("TEECUBE_HEALTH_SCHEME", "https")
    url = argv[1] if len(argv) > 1 else f"{scheme}://127.0.0.1:{port}/health"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # see the module docstring
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as resp:  # noqa: S310
            ok = resp.status == 200
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"{'healthy' if ok else 'unhealthy'}: {url}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
