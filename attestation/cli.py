"""`teecube verify` and `teecube attest`: the client-side command line."""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attestation import client, release, safejson, verifier
from attestation import policy as policy_mod
from attestation.claims import ParseError, Verdict, VerificationError
from attestation.evidence import Bundle
from attestation.fetch import CollateralFetcher
from attestation.providers.base import Evidence

TITLES = {
    "binding": "Connection: is the report about the server you are talking to?",
    "sev-snp": "CPU: AMD SEV-SNP confidential VM (memory encrypted by the AMD processor)",
    "simulated": "CPU: SIMULATED SEV-SNP (a test setup: no confidential hardware)",
    "tdx": "CPU: Intel TDX trust domain (memory encrypted by the Intel processor)",
    "nvidia-gpu": "GPU: NVIDIA confidential computing",
    "gpus": "GPUs: is every GPU of the server attested, each by its own device?",
    "release": "Release: is the measured software a published teecube release?",
}
CLAIM_LINES = (
    ("product", "product line"),
    ("measurement", "measurement (hash of the software launched)"),
    ("reported_tcb", "firmware security versions"),
    ("firmware", "SEV firmware"),
    ("vmpl", "VMPL"),
    ("csp_id", "cloud provider"),
    ("mr_td", "MRTD (hash of the TD's initial contents)"),
    ("fmspc", "platform (FMSPC)"),
    ("tcb_status", "TCB status (Intel collateral)"),
    ("qe_tcb_status", "quoting enclave TCB status"),
    ("release", "matched release"),
    ("release_key", "manifest signed by release key"),
    ("release_note", "note"),
    ("driver_version", "driver"),
    ("vbios_version", "VBIOS"),
)


def _title(v: Verdict) -> str:
    """The verdict's heading; a GPU verdict names its GPU ("GPU 1: NVIDIA confidential computing")."""
    title = TITLES.get(v.kind, v.kind)
    if client.GPU_INDEX in v.claims and title.startswith("GPU: "):
        return f"GPU {v.claims[client.GPU_INDEX]}: {title.removeprefix('GPU: ')}"
    return title


def _render(appraisal: client.Appraisal, target: str) -> str:
    out = [f"Attestation of {target}", ""]
    for v in appraisal.verdicts:
        out.append(_title(v))
        for c in v.checks:
            out.append(f"  {'✓' if c.ok else '✗'} {c.detail or c.name}")
        for key, label in CLAIM_LINES:
            if v.claims.get(key) not in (None, ""):
                val = v.claims[key]
                if isinstance(val, dict):
                    val = " ".join(f"{k}={x}" for k, x in val.items())
                out.append(f"      {label}: {val}")
        out.append("")
    for note in appraisal.notes:
        out.append(f"  note: {note}")
    total = sum(len(v.checks) for v in appraisal.verdicts)
    failed = sum(len(v.failures()) for v in appraisal.verdicts)
    if appraisal.notes:
        out.append("")
    if appraisal.ok:
        out.append(f"✓ TRUSTED: all {total} checks passed.")
    else:
        out.append(f"✗ NOT TRUSTED: {failed} of {total} checks failed. Do not send it anything confidential.")
    return "\n".join(out)


def _emit(appraisal: client.Appraisal, target: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"target": target, **appraisal.to_dict()}, indent=2))
    else:
        print(_render(appraisal, target))
    return 0 if appraisal.ok else 1


def _policy(args: argparse.Namespace) -> policy_mod.Policy | None:
    if args.no_policy:
        return None
    pol = policy_mod.load(args.policy) if args.policy else client.default_policy()
    if args.require_transparency:
        pol.require_release = pol.require_transparency = True
    return pol


def _collateral(args: argparse.Namespace) -> Any:
    """`--collateral` files/directories as an `attestation.tdx.TdxCollateral`, or None."""
    if not args.collateral:
        return None
    tdx = client.optional_module("attestation.tdx")
    if tdx is None:
        raise policy_mod.ModuleNotAvailable("TDX verification is not available in this build")
    return tdx.TdxCollateral.load(*args.collateral)


def _fetcher(args: argparse.Namespace) -> CollateralFetcher:
    """Vendor collateral for a live check: fetched and cached, or the cache alone with --offline."""
    cache = args.cache_dir or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "teecube", "collateral"
    )
    return CollateralFetcher(cache, offline=args.offline, timeout=args.timeout)


def _offline(
    args: argparse.Namespace, pol: policy_mod.Policy | None, now: datetime | None
) -> client.Appraisal:
    data = _read(args.evidence, "evidence")
    if data.lstrip()[:1] == b"{":
        bundle = Bundle.loads(data)
        ap = client.appraise(
            bundle,
            policy=pol,
            trusted_simulated_root=args.trust_simulated_root,
            now=now,
            tdx_collateral=_collateral(args),
            trusted_release_keys=_release_keys(args),
            manifests=_manifests(args),
        )
        ap.notes.append("Offline check: freshness and the live TLS key were not checked")
        return ap
    kind = args.kind or "sev-snp"
    cert = _read(args.cert, "certificate") if args.cert else None
    chain = _read(args.chain, "chain") if args.chain else None
    certs: dict[str, bytes] = {}
    if kind in ("sev-snp", "simulated"):
        if cert is None:
            raise SystemExit("teecube verify: --cert VCEK/VLEK (DER) is needed for a raw SNP report")
        certs["vcek"] = cert
        if chain:
            certs["chain"] = chain
    elif kind == "nvidia-gpu":
        certs["chain"] = chain or cert or b""
    ev = Evidence(kind=kind, report=data, certs=certs, product=args.product)
    section = client._section(kind, pol)
    if section is None:
        return client.Appraisal([client.failed_verdict(kind, "policy",
                                                       f"Your policy has no [{kind}] section: not accepted")])
    opt = verifier.Options(
        now=now,
        roots=verifier.TrustedRoots(simulated=client.load_root(args.trust_simulated_root)),
        product=args.product,
        tdx_collateral=_collateral(args) if kind == "tdx" else None,
        gpu_nonce=bytes.fromhex(args.nonce) if args.nonce else None,
    )
    verdict = verifier.verify(ev, section, opt)
    verdicts, notes = [verdict], []
    if pol is not None and pol.require_release and not verdict.ok:
        notes.append("Release manifest not checked: the evidence did not verify")
    elif pol is not None and pol.require_release:
        keys = release.pinned_keys() + _release_keys(args)
        if kind == "simulated" and args.trust_simulated_root:
            keys += release.load_public_keys(_read(args.trust_simulated_root, "simulated root"))
        verdicts.append(release.match(_manifests(args), keys, verdict,
                                      require_transparency=pol.require_transparency))
    return client.Appraisal(verdicts, notes=notes)


def _release_keys(args: argparse.Namespace) -> list[Any]:
    keys = [k for path in args.trust_release_key or [] for k in release.load_public_keys(_read(path, "key"))]
    if args.trust_release_key and not keys:
        raise ParseError("--trust-release-key: no Ed25519 PUBLIC KEY block in the file(s)")
    return keys


def _manifests(args: argparse.Namespace) -> list[Any]:
    out: list[Any] = []
    for path in args.manifest or []:
        doc = safejson.loads(_read(path, "manifest"), what=f"release manifest {path}")
        out += doc if isinstance(doc, list) else [doc]
    return out


MAX_EVIDENCE_FILE = 8 << 20  # a bundle with collateral is ~40 KiB, a quote ~8 KiB


def _read(path: str, what: str) -> bytes:
    """A local evidence file, refused beyond MAX_EVIDENCE_FILE."""
    with open(path, "rb") as f:
        data = f.read(MAX_EVIDENCE_FILE + 1)
    if len(data) > MAX_EVIDENCE_FILE:
        raise ParseError(f"{what} file {path} is larger than {MAX_EVIDENCE_FILE} bytes")
    return data


def save_attested_cert(url: str, spki_der: bytes, path: str, *, timeout: float = 10.0) -> None:
    """Fetch the certificate over a connection pinned to the attested key, and write it as PEM.

    The pin makes the handshake fail unless the certificate carries the key the report binds, so
    the file holds the attested certificate, never one swapped in between two connections.
    """
    u = urllib.parse.urlsplit(url)
    host, port = u.hostname or "", u.port or 443
    with socket.create_connection((host, port), timeout=timeout) as raw, client.pinned_ssl_context(
        spki_der
    ).wrap_socket(raw, server_hostname=host) as tls:
        cert_der = tls.getpeercert(binary_form=True)
    assert cert_der is not None
    Path(path).write_text(ssl.DER_cert_to_PEM_cert(cert_der))


def verify_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="teecube verify",
        description="Check that a teecube server runs in a genuine confidential VM with the expected software.",  # noqa: E501
    )
    p.add_argument("url", nargs="?", help="https://host[:port] of a teecube server")
    p.add_argument("--evidence", help="check saved evidence offline: a bundle JSON or a raw report/quote")
    p.add_argument(
        "--kind", choices=["sev-snp", "simulated", "tdx", "nvidia-gpu"], help="kind of a raw report"
    )
    p.add_argument("--cert", help="VCEK/VLEK certificate (DER) for a raw SNP report; GPU chain (PEM)")
    p.add_argument("--chain", help="ASK+ARK chain (PEM) for a raw SNP report; GPU chain (PEM)")
    p.add_argument("--product", help="SNP product line of a v2 report: Milan, Genoa, Turin")
    p.add_argument("--nonce", help="expected GPU nonce (hex) for a raw GPU report")
    p.add_argument(
        "--collateral",
        action="append",
        metavar="PATH",
        help="TDX: Intel PCS collateral (TCB Info, QE Identity, TCB signing chain, CRLs), a directory "
        "or files; repeatable. Replaces collateral a bundle carries",
    )
    p.add_argument("--policy", help="policy file (TOML or JSON); see `teecube attest policy`")
    p.add_argument(
        "--no-policy", action="store_true", help="check signatures, chains and TCB consistency only"
    )
    p.add_argument("--trust-simulated-root", metavar="FILE", help="accept the simulated provider's test root")
    p.add_argument("--trust-release-key", action="append", metavar="FILE",
                   help="an Ed25519 release key (PEM) whose signed manifests you accept; repeatable")
    p.add_argument("--require-transparency", action="store_true",
                   help="the release manifest must carry a Sigstore bundle that verifies offline "
                   "(needs teecube[sigstore])")
    p.add_argument("--manifest", action="append", metavar="FILE",
                   help="a signed release manifest to match against (besides those the server publishes)")
    p.add_argument(
        "--save-cert",
        metavar="FILE",
        help="after a TRUSTED verdict, write the server's attested TLS certificate (PEM) here: "
        "pass it to stock clients as SSL_CERT_FILE, verify= or --cacert",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--now", help="ISO 8601 time to check certificate validity at (offline evidence)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--cache-dir", default=None,
                   help="cache of fetched AMD/Intel/NVIDIA collateral (default ~/.cache/teecube/collateral)")
    p.add_argument("--offline", action="store_true",
                   help="fetch nothing from AMD KDS, Intel PCS, NVIDIA: the cache and the server's bundle")
    args = p.parse_args(argv)
    if bool(args.url) == bool(args.evidence):
        p.error("give either a URL or --evidence FILE")
    if args.no_policy and args.policy:
        p.error("--policy and --no-policy exclude each other")
    try:
        now = datetime.fromisoformat(args.now) if args.now else None
    except ValueError:
        p.error(f"--now {args.now!r}: not an ISO 8601 time (e.g. 2025-06-01T00:00:00Z)")
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        pol = _policy(args)
        if args.evidence:
            return _emit(_offline(args, pol, now), args.evidence, args.json)
        if args.no_policy:
            p.error("--no-policy is for saved evidence; a live server is always checked against a policy")
        ap = client.verify_server(
            args.url,
            pol,
            args.trust_simulated_root,
            now=now,
            timeout=args.timeout,
            tdx_collateral=_collateral(args),
            fetcher=_fetcher(args),
            trusted_release_keys=_release_keys(args),
            manifests=_manifests(args),
        )
        status = _emit(ap, args.url, args.json)
        if args.save_cert and ap.ok:
            assert ap.bundle is not None
            save_attested_cert(args.url, ap.bundle.tls_spki_der, args.save_cert, timeout=args.timeout)
            print(f"wrote {args.save_cert}: the attested certificate", file=sys.stderr)
        elif args.save_cert:
            print(f"{args.save_cert} not written: the server is not trusted", file=sys.stderr)
        return status
    except (VerificationError, ParseError, policy_mod.ModuleNotAvailable, ValueError, OSError) as e:
        print(f"✗ NOT TRUSTED: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a verifier bug must still answer "not trusted", not a traceback
        print(f"✗ NOT TRUSTED: internal error ({type(e).__name__}); please report it", file=sys.stderr)
        return 1


def _policy_cmd(args: argparse.Namespace) -> int:
    data = Path(args.source).read_bytes()
    gpus: list[Evidence] = []
    if data.lstrip()[:1] == b"{":
        bundle = Bundle.loads(data)
        ev, gpus = bundle.cpu, bundle.gpus
    else:
        cert = Path(args.cert).read_bytes() if args.cert else None
        certs = {"vcek": cert} if cert else {}
        ev = Evidence(kind=args.kind or "sev-snp", report=data, certs=certs, product=args.product)
    pol = policy_mod.policy_from_evidence(ev, gpus)
    text = policy_mod.dump(pol, args.out)
    if args.out:
        pinned = f", exactly {len(gpus)} attested GPU(s)" if gpus else ""
        print(
            f"wrote {args.out}: accepts measurement(s) of this known-good evidence, debug off{pinned}",
            file=sys.stderr,
        )
    else:
        print(text, end="")
    return 0


def _evidence_cmd(args: argparse.Namespace) -> int:
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from attestation import evidence
    from attestation.providers.auto import select_gpu_provider, select_provider

    provider = select_provider(args.tee, state_dir=args.state_dir)
    key = ec.generate_private_key(ec.SECP384R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    nonce = bytes.fromhex(args.nonce) if args.nonce else secrets.token_bytes(32)
    collateral = evidence.load_collateral_files(*args.tdx_collateral) if args.tdx_collateral else None
    from attestation.hpke import KeyPair

    bundle = evidence.collect(provider, select_gpu_provider(), spki, nonce, collateral=collateral,
                              hpke_public_key=KeyPair.generate().public_bytes)
    text = json.dumps(bundle.to_json(), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
    return 0


def attest_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="teecube attest", description="Attestation tools.")
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("policy", help="write a policy that accepts a known-good report")
    pp.add_argument("--from", dest="source", required=True, help="evidence bundle JSON or raw report.bin")
    pp.add_argument("--kind", choices=["sev-snp", "simulated", "tdx"], help="kind of a raw report")
    pp.add_argument("--cert", help="VCEK/VLEK (DER) of a raw v2 SNP report, to learn its product line")
    pp.add_argument("--product", help="SNP product line of a raw v2 report")
    pp.add_argument("--out", help="write here (.json for JSON, otherwise TOML)")
    pe = sub.add_parser("evidence", help="produce an evidence bundle here (inside a TEE, or simulated)")
    pe.add_argument("--tee", default="auto", choices=["auto", "sev-snp", "tdx", "simulated"])
    pe.add_argument("--state-dir", default=None, help="state directory (simulated keys in STATE/attestation)")
    pe.add_argument("--nonce", help="64 hex characters (default: random)")
    pe.add_argument("--tdx-collateral", action="append", metavar="PATH",
                    help="TDX: Intel PCS collateral files or a directory to carry in the bundle")
    pe.add_argument("--out")
    args = p.parse_args(argv)
    try:
        return _policy_cmd(args) if args.cmd == "policy" else _evidence_cmd(args)
    except (ParseError, policy_mod.ModuleNotAvailable, ValueError, OSError, RuntimeError) as e:
        print(f"teecube attest: {e}", file=sys.stderr)
        return 1


def verify_entry() -> None:
    """`teecube-verify` of the teecube-client distribution: `teecube verify` without the appliance."""
    sys.exit(verify_main(sys.argv[1:]))
