"""The console's attestation page says how many GPUs sent evidence, of how many the server counts, and
titles each GPU's verdict with its index (the browser test covers the page with no GPU)."""

from __future__ import annotations

import re

from proxy.console.web import environment


def _verdict(kind: str, **claims: object) -> dict[str, object]:
    check = {"name": "signature", "ok": True, "detail": "x"}
    return {"kind": kind, "ok": True, "claims": claims, "checks": [check]}


def _page(**result: object) -> str:
    base = {"ok": True, "verdicts": [], "notes": [], "platform": "sev-snp", "simulated": False,
            "tls_spki_sha256": "ab", "gpu": None, "gpus": 0, "gpu_count": None, "gpu_reason": None,
            "nonce": "00"}
    html = environment().get_template("attestation.jinja").render(
        session=None, flashes=[], path="/console/attestation", result={**base, **result},
        command="teecube verify https://x", age=0)
    return re.sub(r"<[^>]+>", " ", html)


def test_every_gpu_is_named_with_the_servers_count() -> None:
    text = _page(gpu="nvidia-gpu", gpus=2, gpu_count=2, verdicts=[
        _verdict("sev-snp"), _verdict("nvidia-gpu", gpu_index=0), _verdict("nvidia-gpu", gpu_index=1),
        _verdict("gpus", gpus_attested=2, gpu_count=2)])
    assert re.search(r"GPUs\s+2 with evidence \(nvidia-gpu\), of 2 the server counts", text)
    assert "GPU 0: nvidia-gpu" in text and "GPU 1: nvidia-gpu" in text
    assert "GPU 0: sev-snp" not in text and "GPU 0: gpus" not in text


def test_no_gpu_and_an_older_server() -> None:
    assert re.search(r"GPUs\s+none: no NVIDIA driver", _page(gpu_reason="no NVIDIA driver"))
    text = _page(gpu="nvidia-gpu", gpus=1, gpu_count=None)
    assert re.search(r"GPUs\s+1 with evidence \(nvidia-gpu\)\s", text) and "the server counts" not in text
