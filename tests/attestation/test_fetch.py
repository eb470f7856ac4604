"""Collateral fetchers against a local HTTP server playing AMD KDS, Intel PCS and NVIDIA's RIM
service with the recorded vendor files; the cache answers when offline or when the server is gone.
The client's `/attestation` fetch is capped in size and depth."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from attestation import client, online, tdx, verifier
from attestation.evidence import Bundle
from attestation.fetch import CollateralFetcher, FetchUnavailable
from attestation.providers.base import Evidence

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
COL = VECTORS / "tdx" / "collateral"
SPR = (VECTORS / "tdx" / "gotdxguest_v4_spr" / "quote.bin").read_bytes()
VBIOS_RIM = VECTORS / "nvgpu" / "rim" / "NV_GPU_VBIOS_1010_0200_882_96.00.74.00.1A.swidtag"
JUL_2023 = datetime(2023, 7, 1, tzinfo=UTC)


def _routes() -> dict[str, tuple[bytes, dict[str, str]]]:
    chain = urllib.parse.quote((COL / "tcb_signing_chain.pem").read_text())
    rim_b64 = base64.b64encode(VBIOS_RIM.read_bytes()).decode()
    rim = json.dumps({"id": VBIOS_RIM.stem, "rim": rim_b64}).encode()
    return {
        "/tdx/certification/v4/tcb?fmspc=50806f000000":
            ((COL / "tcbinfo_fmspc_50806f000000.json").read_bytes(), {"TCB-Info-Issuer-Chain": chain}),
        "/tdx/certification/v4/qe/identity": ((COL / "qe_identity_td_qe.json").read_bytes(), {}),
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der":
            ((COL / "pck_platform_ca.crl.der").read_bytes(), {}),
        "/IntelSGXRootCA.der": ((COL / "intel_sgx_root_ca.crl.der").read_bytes(), {}),
        f"/rim/{VBIOS_RIM.stem}": (rim, {}),
        "/vcek/v1/Milan/crl": (b"crl-bytes", {}),
        "/huge": (b"x" * (3 << 20), {}),
    }


class _Vendor:
    def __init__(self) -> None:
        routes, self.requests = _routes(), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body, headers = routes.get(self.path, (b"not found", {}))
                self.send_response(200 if self.path in routes else 404)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fetcher(self, cache: Path, **kw: object) -> CollateralFetcher:
        return CollateralFetcher(cache, amd_kds=self.url, intel_pcs=self.url,
                                 intel_root_crl=self.url + "/IntelSGXRootCA.der",
                                 nvidia_rim=self.url + "/rim", nvidia_ocsp=self.url + "/ocsp", timeout=5,
                                 **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor() -> Iterator[_Vendor]:
    v = _Vendor()
    yield v
    v.close()


def test_intel_collateral_fetched_verifies_and_is_cached(vendor, tmp_path):
    f = vendor.fetcher(tmp_path)
    files = f.intel_tdx_collateral(bytes.fromhex("50806f000000"))
    col = tdx.TdxCollateral()
    for item in files:
        col.add_bytes(item.data, item.name)
    v = tdx.check(SPR, collateral=col, now=JUL_2023, policy=tdx.TdxPolicy(allow_debug=True,
                  accepted_tcb_statuses=["UpToDate", "OutOfDate"]))
    names = {c.name: c.ok for c in v.checks}
    assert names["tcb_info"] and names["qe_identity"] and names["pck_crls"] and names["root_crl"]
    assert len(f.fetched) == 4
    vendor.close()  # the vendor is gone: the cache answers, online or offline
    for again in (vendor.fetcher(tmp_path), vendor.fetcher(tmp_path, offline=True)):
        cached = again.intel_tdx_collateral(bytes.fromhex("50806f000000"))
        assert [x.data for x in cached] == [x.data for x in files]
        assert again.fetched == []


def test_offline_without_cache_fetches_nothing(vendor, tmp_path):
    with pytest.raises(FetchUnavailable):
        vendor.fetcher(tmp_path, offline=True).amd_crl("Milan")
    assert vendor.requests == []


def test_kds_paths_and_rim_service(vendor, tmp_path):
    f = vendor.fetcher(tmp_path)
    assert f.amd_crl("Milan") == b"crl-bytes"
    assert f.nvidia_rim(VBIOS_RIM.stem) == VBIOS_RIM.read_bytes()
    with pytest.raises(FetchUnavailable):
        f.amd_crl("../etc")
    with pytest.raises(FetchUnavailable):
        f.get(vendor.url + "/huge")
    with pytest.raises(FetchUnavailable):
        CollateralFetcher(tmp_path).get("file:///etc/passwd")


def test_enrich_fetches_tdx_collateral_for_the_quotes_fmspc(vendor, tmp_path):
    bundle = Bundle(bytes(32), b"k", Evidence(kind="tdx", report=SPR))
    opt, notes = online.enrich(bundle, vendor.fetcher(tmp_path), verifier.Options(now=JUL_2023))
    assert notes == [] and opt.tdx_collateral.tcb_info_for(bytes.fromhex("50806f000000")) is not None


def test_enrich_notes_what_it_could_not_fetch(vendor, tmp_path):
    gce = (VECTORS / "tdx" / "gotdxguest_v4_gce_ccel" / "quote_padded.bin").read_bytes()  # FMSPC not served
    bundle = Bundle(bytes(32), b"k", Evidence(kind="tdx", report=gce))
    opt, notes = online.enrich(bundle, vendor.fetcher(tmp_path), verifier.Options())
    assert opt.tdx_collateral is None and "not fetched" in notes[0]


# -- the client's /attestation fetch is bounded ------------------------------------------------------


@pytest.fixture
def tls_server(sim, tmp_path):
    """An HTTPS server answering /attestation with whatever `body` holds."""
    import ssl

    from attestation import tls

    ident = tls.TlsIdentity.generate(["127.0.0.1"], sim)
    body = {"data": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body["data"])))
            self.end_headers()
            self.wfile.write(body["data"])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    _write(ident, cert, key)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()
    server.server_close()


def _write(ident, cert: Path, key: Path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    cert.write_bytes(ident.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(ident.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))


@pytest.mark.parametrize("data, match", [
    (b"{" + b" " * (client.MAX_BUNDLE_BYTES + 10) + b"}", "larger than"),
    (b"[" * 10_000 + b"]" * 10_000, "nests deeper"),
    (b'{"format": "teecube-attestation/2", "cpu": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}', "nests deeper"),
    (b"\xff\xfe not json", "not valid JSON"),
])
def test_attestation_answer_is_capped(tls_server, data, match):
    url, body = tls_server
    body["data"] = data
    with pytest.raises(client.FetchError, match=match):
        client.fetch(url, bytes(32))


def test_enrich_fetches_the_gpu_rims_and_notes_what_is_missing(vendor, tmp_path, sim):
    gpu_dir = VECTORS / "nvgpu" / "coco_hopper"
    gpu = Evidence(kind="nvidia-gpu", report=(gpu_dir / "report.bin").read_bytes(),
                   certs={"chain": (gpu_dir / "cert_chain.pem").read_bytes()})
    cpu = sim.get_evidence(bytes(64))
    bundle = Bundle(bytes(32), b"k", cpu, gpu, hpke_public_key=bytes(32))
    (opt,), notes = online.enrich_gpus(bundle, vendor.fetcher(tmp_path), verifier.Options())
    assert opt.rims == (VBIOS_RIM.read_bytes(),)
    assert any("NV_GPU_DRIVER_GH100_580.95.05" in n for n in notes)  # not served here
    assert any("OCSP" in n for n in notes)  # the local vendor has no OCSP responder
    requests = online._ocsp_requests((gpu_dir / "cert_chain.pem").read_bytes())
    assert len(requests) == 3  # every certificate but the GPU-made leaf and the root
