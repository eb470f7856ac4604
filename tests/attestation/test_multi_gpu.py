"""Every GPU of the server is attested: the provider collects each device over one nonce, the
bundle carries `gpus` and `gpu_count`, and the client refuses a missing, repeated or unpinned GPU.

The real Hopper vectors answer their own fixed nonces, so each GPU verdict fails its `nonce` check
here; the tests look at the named checks (chain, signature, count, distinct devices) instead.
NVML cannot run without the hardware: the provider is driven by a stand-in `pynvml` that hands back
the real vectors' bytes.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestation import binding, client, online, verifier
from attestation import policy as policy_mod
from attestation.claims import ParseError, Verdict
from attestation.cli import verify_main
from attestation.evidence import Bundle, collect
from attestation.fetch import CollateralFetcher
from attestation.nvgpu.abi import parse_report
from attestation.nvgpu.validate import GpuPolicy
from attestation.policy import Policy
from attestation.providers.base import Evidence
from attestation.providers.nvidia import NvidiaGpuProvider
from attestation.snp.validate import SnpPolicy
from attestation.tls import TlsIdentity, bundle_from_cert

NV = Path(__file__).resolve().parents[1] / "data" / "vectors" / "nvgpu"
COCO, SAMPLE = NV / "coco_hopper", NV / "nvtrust_hopper_sample"
VBIOS_RIM = NV / "rim" / "NV_GPU_VBIOS_1010_0200_882_96.00.74.00.1A.swidtag"
HPKE = b"\x07" * 32
SPKI, NONCE = b"spki", bytes(32)
POLICY = Policy(simulated=SnpPolicy(), gpu=GpuPolicy(require_measurement_appraisal=False))


def _gpu(d: Path, report: bytes | None = None) -> Evidence:
    return Evidence("nvidia-gpu", report if report is not None else (d / "report.bin").read_bytes(),
                    {"chain": (d / "cert_chain.pem").read_bytes()}, source="nvml")


def _bundle(sim: Any, gpus: list[Evidence], gpu_count: int | None) -> Bundle:
    cpu = sim.get_evidence(binding.report_data(SPKI, NONCE, HPKE))
    return Bundle(NONCE, SPKI, cpu, hpke_public_key=HPKE, gpus=gpus, gpu_count=gpu_count)


def _appraise(sim: Any, bundle: Bundle, pol: Policy | None = POLICY) -> client.Appraisal:
    again = Bundle.loads(bundle.dumps())  # what a client gets over the wire
    return client.appraise(again, policy=pol, trusted_simulated_root=sim.root_pem)


def _checks(v: Verdict) -> dict[str, bool]:
    return {c.name: c.ok for c in v.checks}


def _gpu_set(ap: client.Appraisal) -> Verdict:
    (v,) = [v for v in ap.verdicts if v.kind == "gpus"]
    return v


def _per_gpu(ap: client.Appraisal) -> list[Verdict]:
    return [v for v in ap.verdicts if v.kind == "nvidia-gpu"]


# -- the bundle format -------------------------------------------------------------------------


def test_two_gpus_round_trip_with_gpu_as_the_first(sim) -> None:
    gpus = [_gpu(COCO), _gpu(SAMPLE)]
    d = json.loads(_bundle(sim, gpus, 2).dumps())
    assert [g["report"] for g in d["gpus"]] == [base64.b64encode(g.report).decode() for g in gpus]
    assert d["gpu"] == d["gpus"][0] and d["gpu_count"] == 2
    again = Bundle.from_json(d)
    assert again.gpus == gpus and again.gpu == gpus[0] and again.gpu_count == 2


def test_old_server_bundle_with_only_gpu_parses_as_one_gpu(sim) -> None:
    d = _bundle(sim, [_gpu(COCO)], 1).to_json()
    del d["gpus"], d["gpu_count"]
    old = Bundle.from_json(d)
    assert old.gpus == [_gpu(COCO)] and old.gpu == old.gpus[0] and old.gpu_count is None
    ap = client.appraise(old, policy=POLICY, trusted_simulated_root=sim.root_pem)
    assert _checks(_gpu_set(ap)) == {"distinct_gpus": True}  # no count to compare with
    assert any("does not say how many GPUs" in n for n in ap.notes)


def test_bundle_without_gpu_evidence_has_no_gpus_key(sim) -> None:
    d = _bundle(sim, [], 0).to_json()
    assert d["gpu"] is None and "gpus" not in d and d["gpu_count"] == 0
    assert Bundle.from_json(d).gpus == []


def _with(sim: Any, **fields: Any) -> dict[str, Any]:
    d = _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 2).to_json()
    d.update(fields)
    return d


@pytest.mark.parametrize("gpus", ["abc", 5, True, {}, [], [None], [5], ["x"], [[]]], ids=repr)
def test_malformed_gpus_is_a_parse_error(sim, gpus) -> None:
    with pytest.raises(ParseError):
        Bundle.from_json(_with(sim, gpus=gpus))


def test_more_than_16_gpus_is_a_parse_error(sim) -> None:
    one = _gpu(COCO).to_json()
    with pytest.raises(ParseError, match="1 to 16"):
        Bundle.from_json(_with(sim, gpu=one, gpus=[one] * 17))
    assert len(Bundle.from_json(_with(sim, gpu=one, gpus=[one] * 16)).gpus) == 16


def test_first_of_gpus_must_be_gpu(sim) -> None:
    with pytest.raises(ParseError, match="first"):
        Bundle.from_json(_with(sim, gpu=_gpu(SAMPLE).to_json()))
    assert Bundle.from_json(_with(sim, gpu=None)).gpu == _gpu(COCO)  # `gpus` alone is enough


@pytest.mark.parametrize("count", [True, False, "2", 2.0, -1, 17, [2], {"n": 2}], ids=repr)
def test_malformed_gpu_count_is_a_parse_error(sim, count) -> None:
    with pytest.raises(ParseError, match="gpu_count"):
        Bundle.from_json(_with(sim, gpu_count=count))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3),
                    max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["gpus", "gpu_count"]), value=JSON)
def test_any_json_in_the_new_fields_parses_or_is_a_parse_error(sim, key, value) -> None:
    try:
        b = Bundle.from_json(_with(sim, **{key: value}))
    except ParseError:
        return
    assert b.gpu == (b.gpus[0] if b.gpus else None)  # accepted: consistent


@pytest.mark.parametrize("count", [0, 1, 16, None])
def test_gpu_count_in_range_parses(sim, count) -> None:
    assert Bundle.from_json(_with(sim, gpu_count=count)).gpu_count == count


def test_bundle_built_in_code_keeps_gpu_and_gpus_together(sim) -> None:
    cpu = sim.get_evidence(bytes(64))
    assert Bundle(NONCE, SPKI, cpu, _gpu(COCO)).gpus == [_gpu(COCO)]
    assert Bundle(NONCE, SPKI, cpu, gpus=[_gpu(SAMPLE), _gpu(COCO)]).gpu == _gpu(SAMPLE)
    with pytest.raises(ValueError, match="first"):
        Bundle(NONCE, SPKI, cpu, _gpu(COCO), gpus=[_gpu(SAMPLE), _gpu(COCO)])


# -- appraisal ---------------------------------------------------------------------------------


def test_two_real_gpus_each_get_a_verdict_and_are_distinct(sim) -> None:
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 2))
    per_gpu = _per_gpu(ap)
    assert [v.claims["gpu_index"] for v in per_gpu] == [0, 1]
    assert [v.claims["vbios_version"] for v in per_gpu] == ["96.00.74.00.1A", "96.00.9F.00.01"]
    for v in per_gpu:
        c = _checks(v)
        assert c["device_chain"] and c["report_signature"] and c["fwid"]
        assert [x.name for x in v.failures()] == ["nonce"]  # the vectors' own nonces
    assert _checks(_gpu_set(ap)) == {"gpu_count": True, "distinct_gpus": True}
    assert "from 2 different device(s)" in _gpu_set(ap).checks[1].detail
    assert not ap.ok


def test_every_gpu_is_checked_against_the_same_bound_nonce(sim) -> None:
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 2))
    expected = binding.gpu_nonce(SPKI, NONCE, HPKE).hex()
    details = [next(c.detail for c in v.checks if c.name == "nonce") for v in _per_gpu(ap)]
    assert len(details) == 2 and all(d.endswith(f"expected {expected}") for d in details)


def test_the_same_gpu_twice_is_a_replay(sim) -> None:
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), _gpu(COCO)], 2))
    for v in _per_gpu(ap):  # each one alone is genuine
        assert _checks(v)["device_chain"] and _checks(v)["report_signature"]
    gpu_set = _gpu_set(ap)
    assert _checks(gpu_set) == {"gpu_count": True, "distinct_gpus": False}
    detail = gpu_set.failures()[0].detail
    assert "GPU 1 repeats GPU 0" in detail and "same report" in detail and "replay" in detail
    assert not ap.ok


def test_the_same_device_with_another_report_is_a_replay(sim) -> None:
    report = (COCO / "report.bin").read_bytes()
    assert report[-1:] == b"\x00"  # the coco vector's trailing byte: the signature covers the rest
    again = _gpu(COCO, report[:-1])
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), _gpu(SAMPLE), again], 3))
    assert _checks(_per_gpu(ap)[2])["report_signature"]
    detail = _gpu_set(ap).failures()[0].detail
    assert detail.startswith("GPU 2 repeats GPU 0 (same leaf key, device identity key)")


def test_a_report_copied_under_another_chain_is_a_replay(sim) -> None:
    forged = _gpu(COCO)
    forged.certs = {"chain": (SAMPLE / "cert_chain.pem").read_bytes()}
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), forged], 2))
    assert "GPU 1 repeats GPU 0 (same report)" in _gpu_set(ap).failures()[0].detail


def test_an_unreadable_chain_fails_its_gpu_not_the_appraisal(sim) -> None:
    broken = _gpu(SAMPLE)
    broken.certs = {"chain": b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), broken], 2))
    assert _per_gpu(ap)[1].failures()[0].name == "CertificateError"
    assert _checks(_gpu_set(ap)) == {"gpu_count": True, "distinct_gpus": True}


def test_fewer_gpus_than_the_server_counts_is_refused(sim) -> None:
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO)], 2))
    check = next(c for c in _gpu_set(ap).checks if c.name == "gpu_count")
    assert not check.ok and "counts 2 GPU(s) but sent evidence for 1" in check.detail
    assert _checks(_gpu_set(_appraise(sim, _bundle(sim, [_gpu(COCO)], 1))))["gpu_count"]


def test_more_gpus_than_the_server_counts_is_refused(sim) -> None:
    ap = _appraise(sim, _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 1))
    assert _checks(_gpu_set(ap))["gpu_count"] is False


def test_policy_gpu_count_must_match(sim) -> None:
    bundle = _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 2)
    for pinned, ok in ((2, True), (3, False), (1, False)):
        pol = Policy(simulated=SnpPolicy(), gpu=POLICY.gpu, gpu_count=pinned)
        gpu_set = _gpu_set(_appraise(sim, bundle, pol))
        assert _checks(gpu_set)["policy_gpu_count"] is ok
    assert "policy_gpu_count" not in _checks(_gpu_set(_appraise(sim, bundle)))  # not pinned: any


def test_policy_gpu_count_without_gpu_evidence_is_refused(sim) -> None:
    bundle = _bundle(sim, [], None)
    bundle.gpu_reason = "no NVIDIA driver/GPU"
    assert _appraise(sim, bundle).ok  # nothing pinned, nothing required
    ap = _appraise(sim, bundle, Policy(simulated=SnpPolicy(), gpu=POLICY.gpu, gpu_count=2))
    assert [c.name for v in ap.verdicts for c in v.failures()] == ["policy_gpu_count"]


def test_gpus_counted_but_cc_off_is_only_a_note(sim) -> None:
    bundle = _bundle(sim, [], 8)
    bundle.gpu_reason, bundle.gpu_cc_mode = "GPU confidential computing is off", False
    ap = _appraise(sim, bundle)
    assert ap.ok and any("the server counts 8 GPU(s)" in n for n in ap.notes)


def test_failure_message_and_cli_name_the_gpu(sim, tmp_path, capsys) -> None:
    bundle = _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 2)
    message = str(client.AttestationFailed(_appraise(sim, bundle)))
    assert "GPU 0: request nonce" in message and "GPU 1: request nonce" in message
    path, pol = tmp_path / "evidence.json", tmp_path / "policy.toml"
    path.write_text(bundle.dumps())
    pol.write_text('gpu_count = 2\n[simulated]\n["nvidia-gpu"]\nrequire_measurement_appraisal = false\n')
    argv = ["--evidence", str(path), "--policy", str(pol), "--trust-simulated-root", str(sim.root_path)]
    assert verify_main(argv) == 1
    out = capsys.readouterr().out
    assert "GPU 0: NVIDIA confidential computing" in out and "GPU 1: NVIDIA confidential computing" in out
    assert "GPUs: is every GPU of the server attested" in out and "VBIOS: 96.00.9F.00.01" in out
    assert "✓ 2 attested GPU(s); your policy requires 2" in out


# -- the policy file ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("gpu_count = 8\n", 8), ("gpu_count = 1\n", 1),
                                            ("gpu_count = 16\n", 16), ("require_gpu = true\n", None)])
def test_policy_file_gpu_count(tmp_path, text, expected) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    pol = policy_mod.load(path)
    assert pol.gpu_count == expected
    assert policy_mod.Policy.from_dict(json.loads(json.dumps(pol.to_dict()))).gpu_count == expected
    assert policy_mod.load(_dumped(tmp_path, pol)).gpu_count == expected


def _dumped(tmp_path: Path, pol: Policy) -> Path:
    out = tmp_path / "again.toml"
    policy_mod.dump(pol, out)
    return out


@pytest.mark.parametrize("value", ['"8"', "true", "8.0", "[8]", "0", "17", "-1"])
def test_policy_file_gpu_count_must_be_an_integer_1_to_16(tmp_path, value) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(f"gpu_count = {value}\n")
    with pytest.raises(ValueError, match="gpu_count: expected an integer 1 to 16"):
        policy_mod.load(path)


def test_policy_from_evidence_pins_the_gpus_it_saw(sim, tmp_path) -> None:
    cpu = sim.get_evidence(bytes(64))
    pol = policy_mod.policy_from_evidence(cpu, [_gpu(COCO), _gpu(SAMPLE)])
    assert pol.gpu_count == 2 and pol.require_gpu
    assert sorted(pol.gpu.vbios_versions) == ["96.00.74.00.1A", "96.00.9F.00.01"]
    coco, sample = parse_report(_gpu(COCO).report), parse_report(_gpu(SAMPLE).report)
    assert {coco.measurement(1), sample.measurement(1)} == set(pol.gpu.measurements[1])
    assert policy_mod.load(_dumped(tmp_path, pol)) == pol
    one = policy_mod.policy_from_evidence(cpu, _gpu(COCO))  # one Evidence, as before
    assert one.gpu_count == 1 and one.gpu == GpuPolicy.from_evidence(_gpu(COCO).report)
    assert policy_mod.policy_from_evidence(cpu).gpu_count is None


def test_generated_policy_accepts_each_gpu_and_pins_the_count(sim) -> None:
    gpus = [_gpu(COCO), _gpu(SAMPLE)]
    pol = policy_mod.policy_from_evidence(sim.get_evidence(bytes(64)), gpus)
    pol.simulated = SnpPolicy()
    ap = _appraise(sim, _bundle(sim, gpus, 2), pol)
    for v in _per_gpu(ap):
        c = _checks(v)
        assert c["pinned_measurements"] and c["driver_version"] and c["vbios_version"]
    assert _checks(_gpu_set(ap))["policy_gpu_count"]
    fewer = _gpu_set(_appraise(sim, _bundle(sim, gpus[:1], 1), pol))
    assert _checks(fewer)["policy_gpu_count"] is False


# -- the provider ------------------------------------------------------------------------------


class _NvmlError(Exception):
    pass


class _FakeNvml:
    """The NVML calls the provider makes, answering with the real vectors' bytes."""

    NVMLError = _NvmlError

    def __init__(self, devices: list[Path], *, fail_at: int | None = None, cc: bool = True) -> None:
        self.devices, self.fail_at, self.cc = devices, fail_at, cc
        self.asked: list[tuple[int, bytes]] = []
        self.shutdowns = 0

    def nvmlSystemGetConfComputeState(self) -> SimpleNamespace:
        return SimpleNamespace(ccFeature=int(self.cc), devToolsMode=0, environment=1)

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.devices):
            raise _NvmlError("Invalid Argument")
        return index

    def nvmlDeviceGetConfComputeGpuCertificate(self, handle: int) -> SimpleNamespace:
        chain = (self.devices[handle] / "cert_chain.pem").read_bytes()
        return SimpleNamespace(attestationCertChain=chain + bytes(64), attestationCertChainSize=len(chain))

    def nvmlDeviceGetConfComputeGpuAttestationReport(self, handle: int, nonce: bytes) -> SimpleNamespace:
        self.asked.append((handle, bytes(nonce)))
        if handle == self.fail_at:
            raise _NvmlError("GPU is lost")
        report = (self.devices[handle] / "report.bin").read_bytes()
        return SimpleNamespace(attestationReport=report + bytes(64), attestationReportSize=len(report))

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1


def _provider(monkeypatch: pytest.MonkeyPatch, nvml: _FakeNvml) -> NvidiaGpuProvider:
    provider = NvidiaGpuProvider()
    monkeypatch.setattr(provider, "_nvml", lambda: nvml)
    return provider


def test_provider_attests_every_device_over_one_nonce(monkeypatch) -> None:
    nvml = _FakeNvml([COCO, SAMPLE, COCO])
    provider = _provider(monkeypatch, nvml)
    nonce = bytes(range(32))
    evidence = provider.get_all_evidence(nonce)
    assert nvml.asked == [(0, nonce), (1, nonce), (2, nonce)]
    assert [e.report for e in evidence] == [(d / "report.bin").read_bytes() for d in (COCO, SAMPLE, COCO)]
    assert all(e.nonce == nonce and e.kind == "nvidia-gpu" for e in evidence)
    assert evidence[1].certs["chain"] == (SAMPLE / "cert_chain.pem").read_bytes()
    assert (provider.gpu_count, provider.cc_mode, nvml.shutdowns) == (3, True, 1)
    assert provider.get_evidence(nonce) == evidence[0]


def test_provider_failing_on_device_1_gives_no_evidence(monkeypatch) -> None:
    nvml = _FakeNvml([COCO, SAMPLE, COCO], fail_at=1)
    provider = _provider(monkeypatch, nvml)
    assert provider.get_all_evidence(bytes(32)) == []
    assert provider.reason.startswith("GPU 1: NVML error: GPU is lost")
    assert [i for i, _ in nvml.asked] == [0, 1]  # stops at the failure
    assert (provider.gpu_count, provider.cc_mode, nvml.shutdowns) == (3, True, 1)
    assert provider.get_evidence(bytes(32)) is None


def test_provider_with_cc_off_counts_but_sends_nothing(monkeypatch) -> None:
    nvml = _FakeNvml([COCO, SAMPLE], cc=False)
    provider = _provider(monkeypatch, nvml)
    assert provider.get_all_evidence(bytes(32)) == []
    assert provider.reason == "GPU confidential computing is off" and nvml.asked == []
    assert (provider.gpu_count, provider.cc_mode) == (2, False)


def test_provider_with_cc_on_and_no_device_sends_nothing(monkeypatch) -> None:
    provider = _provider(monkeypatch, _FakeNvml([]))
    assert provider.get_all_evidence(bytes(32)) == [] and "0 GPUs" in provider.reason


def test_collect_carries_every_gpu_and_the_count(monkeypatch, sim) -> None:
    provider = _provider(monkeypatch, _FakeNvml([COCO, SAMPLE]))
    bundle = Bundle.loads(collect(sim, provider, SPKI, NONCE, hpke_public_key=HPKE).dumps())
    assert [g.report for g in bundle.gpus] == [_gpu(COCO).report, _gpu(SAMPLE).report]
    assert bundle.gpu == bundle.gpus[0] and bundle.gpu_count == 2 and bundle.gpu_cc_mode is True
    assert {g.nonce for g in bundle.gpus} == {binding.gpu_nonce(SPKI, NONCE, HPKE)}
    assert bundle.gpu_reason is None


def test_collect_with_a_failed_device_is_refused_by_the_client(monkeypatch, sim) -> None:
    provider = _provider(monkeypatch, _FakeNvml([COCO, SAMPLE], fail_at=1))
    bundle = collect(sim, provider, SPKI, NONCE, hpke_public_key=HPKE)
    assert bundle.gpus == [] and bundle.gpu is None and bundle.gpu_count == 2
    assert bundle.gpu_reason is not None and bundle.gpu_reason.startswith("GPU 1:")
    ap = _appraise(sim, bundle)
    (failed,) = [c for v in ap.verdicts for c in v.failures()]
    assert failed.name == "gpu_present" and "GPU 1:" in failed.detail


# -- online collateral, per GPU ----------------------------------------------------------------


@pytest.fixture
def rim_service() -> Iterator[tuple[str, list[str]]]:
    """NVIDIA's RIM service with the one recorded VBIOS RIM; OCSP and every other RIM answer 404."""
    rim = json.dumps({"id": VBIOS_RIM.stem, "rim": base64.b64encode(VBIOS_RIM.read_bytes()).decode()})
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            asked.append(f"{self.command} {self.path}")
            found = self.path == f"/rim/{VBIOS_RIM.stem}"
            body = rim.encode() if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def _fetcher(url: str, cache: Path) -> CollateralFetcher:
    return CollateralFetcher(cache, nvidia_rim=url + "/rim", nvidia_ocsp=url + "/ocsp", timeout=5)


def test_enrich_gpus_gives_each_gpu_its_own_rims(sim, rim_service, tmp_path) -> None:
    url, _ = rim_service
    bundle = _bundle(sim, [_gpu(COCO), _gpu(SAMPLE)], 2)
    opts, notes = online.enrich_gpus(bundle, _fetcher(url, tmp_path), verifier.Options())
    assert [o.rims for o in opts] == [(VBIOS_RIM.read_bytes(),), ()]  # not one GPU's RIM for both
    assert any("NV_GPU_VBIOS_1010_0200_882_96.00.9F.00.01" in n for n in notes)


def test_enrich_gpus_asks_once_for_what_gpus_share(sim, rim_service, tmp_path) -> None:
    url, asked = rim_service
    bundle = _bundle(sim, [_gpu(COCO), _gpu(COCO), _gpu(COCO)], 3)
    opts, notes = online.enrich_gpus(bundle, _fetcher(url, tmp_path), verifier.Options())
    assert [o.rims for o in opts] == [(VBIOS_RIM.read_bytes(),)] * 3
    assert len(asked) == len(set(asked)) == 3  # the VBIOS RIM, the driver RIM, one OCSP request
    assert len(notes) == len(set(notes)) == 2  # the driver RIM and OCSP, each said once


# -- the TLS certificate -----------------------------------------------------------------------


def _handshake(identity: TlsIdentity) -> bytes:
    """The certificate a stock OpenSSL client receives from `identity`'s server context."""
    server_ctx = identity.ssl_context()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass  # the client gave up: its side reports why

        threading.Thread(target=serve, daemon=True).start()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(listener.getsockname(), timeout=10) as raw, \
                ctx.wrap_socket(raw) as tls:
            cert = tls.getpeercert(binary_form=True)
    assert cert is not None
    return cert


def test_certificate_carries_a_few_gpus(monkeypatch, sim) -> None:
    identity = TlsIdentity.generate(["127.0.0.1"], sim, _provider(monkeypatch, _FakeNvml([COCO, SAMPLE])))
    carried = bundle_from_cert(_handshake(identity))
    assert carried.gpus == identity.bundle.gpus and len(carried.gpus) == 2 and carried.gpu_count == 2


def test_certificate_of_an_8_gpu_server_still_completes_a_handshake(monkeypatch, sim) -> None:
    """Eight GPUs' evidence is ~100 KiB: over OpenSSL's certificate limit (the handshake failed with
    EXCESSIVE_MESSAGE_SIZE). The certificate leaves it out, and says so; /attestation has it all."""
    provider = _provider(monkeypatch, _FakeNvml([COCO, SAMPLE] * 4))
    identity = TlsIdentity.generate(["127.0.0.1"], sim, provider)
    assert len(identity.bundle.gpus) == 8  # what GET /attestation's bundles carry
    carried = bundle_from_cert(_handshake(identity))
    assert carried.gpus == [] and carried.gpu is None
    assert (carried.gpu_count, carried.gpu_cc_mode) == (8, True)
    assert carried.gpu_reason is not None and "GET /attestation" in carried.gpu_reason
    ap = client.appraise(carried, policy=POLICY, trusted_simulated_root=sim.root_pem)
    assert [c.name for v in ap.verdicts for c in v.failures()] == ["gpu_present"]  # never trusted as is
