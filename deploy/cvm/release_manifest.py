#!/usr/bin/env python3
"""Expected launch measurements of a teecube release, written as a signed release manifest.

    # once: the release key (keep the private key offline; ship the public key in
    # attestation/roots/release/ so clients pin it)
    python deploy/cvm/release_manifest.py keygen --out release-key

    # per release: the exact OVMF, kernel, initrd and command line the host launches
    python deploy/cvm/release_manifest.py build --version 0.4.0 \\
        --ovmf OVMF.fd --kernel vmlinuz --initrd initrd.img --cmdline cmdline.txt \\
        --vcpus 8 --vcpus 16 --vcpu-type EPYC-v4 --vcpu-type EPYC-Genoa \\
        [--tdvf TDVF.fd --tdx-event-log ccel_data.bin] [--image teecube=image.tar ...] \\
        [--source-commit SHA] --sign-key release-key.pem --out release.json

    # optional, in the release workflow: put the manifest in Sigstore's transparency log
    python deploy/cvm/release_manifest.py payload --envelope release.json --out manifest.json
    sigstore sign --bundle manifest.sigstore.json manifest.json      # GitHub Actions OIDC identity
    python deploy/cvm/release_manifest.py attach --envelope release.json --bundle manifest.sigstore.json

SEV-SNP: one entry per (vCPU type, vCPU count), computed with `sev-snp-measure` (virtee, the
same code as its CLI): OVMF pages, the metadata sections, the kernel/initrd/cmdline hash table
and one VMSA per vCPU. TDX: MRTD computed from the TDVF image (its metadata sections replayed
as TDH.MEM.PAGE.ADD / TDH.MR.EXTEND, `attestation.tdx.tdvf`; `--tdx-mrtd` may name the
expected value as a cross-check, or stand in for the image) and RTMR0-2 by replaying the CCEL
event log of a reference boot of the same image
(`attestation.tdx.ccel`). The manifest lists the SHA-256 of every input ("images"), so a third
party can check they measured the same bytes (docs/attestation.md, "Reproducing a measurement").
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from attestation import release  # noqa: E402
from attestation.tdx import ccel, tdvf  # noqa: E402


def _sha256(path: str | Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snp_measurement(ovmf: str, kernel: str, initrd: str, cmdline: str, vcpus: int, vcpu_type: str,
                    vmm: str = "QEMU", guest_features: int = 0x1) -> str:
    from sevsnpmeasure import guest, vcpu_types, vmm_types
    from sevsnpmeasure.sev_mode import SevMode

    digest = guest.calc_launch_digest(
        SevMode.SEV_SNP, vcpus, vcpu_types.CPU_SIGS[vcpu_type], ovmf, kernel, initrd, cmdline,
        guest_features, vmm_type=vmm_types.VMMType[vmm],
    )
    return digest.hex()


def tdx_entry(mr_td: str, event_log: str) -> dict[str, str]:
    rtmrs = ccel.replay_rtmrs(ccel.parse_event_log(Path(event_log).read_bytes()))
    return {"platform": "tdx", "mr_td": mr_td.lower(), "rtmr0": rtmrs[0].hex(), "rtmr1": rtmrs[1].hex(),
            "rtmr2": rtmrs[2].hex()}


def build(args: argparse.Namespace) -> dict[str, object]:
    measurements: list[dict[str, object]] = []
    cmdline = Path(args.cmdline).read_text().strip() if args.cmdline else ""
    images = {name: _sha256(path) for name, path in (
        ("ovmf", args.ovmf), ("kernel", args.kernel), ("initrd", args.initrd), ("cmdline", args.cmdline))
        if path}
    if args.ovmf:
        for vcpu_type in args.vcpu_type or ["EPYC-v4"]:
            for vcpus in args.vcpus or [1]:
                measurements.append({
                    "platform": "sev-snp", "vcpu_type": vcpu_type, "vcpus": vcpus, "vmm": args.vmm,
                    "guest_features": hex(args.guest_features),
                    "measurement": snp_measurement(args.ovmf, args.kernel or "", args.initrd or "", cmdline,
                                                   vcpus, vcpu_type, args.vmm, args.guest_features),
                })
    mr_td = args.tdx_mrtd.lower() if args.tdx_mrtd else None
    if args.tdvf:
        try:
            computed = tdvf.compute_mrtd(Path(args.tdvf).read_bytes()).hex()
        except tdvf.ParseError as e:
            raise SystemExit(f"release_manifest: {args.tdvf}: {e}") from e
        if mr_td is not None and mr_td != computed:
            raise SystemExit(f"release_manifest: --tdx-mrtd {mr_td} differs from the TDVF's MRTD {computed}")
        mr_td = computed
        images["tdvf"] = _sha256(args.tdvf)
    if mr_td is not None:
        if not args.tdx_event_log:
            raise SystemExit("release_manifest: TDX needs --tdx-event-log for RTMR0-2")
        measurements.append(tdx_entry(mr_td, args.tdx_event_log))
        images["tdx_event_log"] = _sha256(args.tdx_event_log)
    for spec in args.image or []:
        name, _, path = spec.partition("=")
        images[name] = _sha256(path)
    if not measurements:
        raise SystemExit("release_manifest: nothing to measure (give --ovmf and/or --tdvf)")
    source = {}
    if args.source_commit:
        source = {"repository": args.source_repository, "commit": args.source_commit}
    return release.new_manifest(args.version, measurements, images=images, source=source)


def keygen(out: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    fd = os.open(f"{out}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    Path(f"{out}.pub.pem").write_bytes(release.public_pem(key))
    kid = release.key_id(key.public_key())
    print(f"wrote {out}.pem (private, keep offline) and {out}.pub.pem (key id {kid})")


def _envelope(path: str) -> dict[str, object]:
    env = json.loads(Path(path).read_text())
    if not isinstance(env, dict) or env.get("format") != release.ENVELOPE_FORMAT:
        raise SystemExit(f"release_manifest: {path} is not a {release.ENVELOPE_FORMAT} envelope")
    return env


def payload(envelope: str, out: str) -> None:
    """The exact manifest bytes the signatures cover: what `sigstore sign` must sign."""
    Path(out).write_bytes(base64.b64decode(str(_envelope(envelope)["payload"]), validate=True))
    print(f"wrote {out}: the manifest bytes to sign with sigstore")


def attach(envelope: str, bundle: str) -> None:
    env = _envelope(envelope)
    b = json.loads(Path(bundle).read_text())
    if not isinstance(b, dict) or "verificationMaterial" not in b:
        raise SystemExit(f"release_manifest: {bundle} is not a Sigstore bundle")
    bundles = env.get("sigstore")
    env["sigstore"] = [*(bundles if isinstance(bundles, list) else []), b]
    Path(envelope).write_text(json.dumps(env, indent=2) + "\n")
    print(f"{envelope}: Sigstore bundle attached")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="release_manifest.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen", help="make an Ed25519 release key pair")
    k.add_argument("--out", required=True, help="path prefix: PREFIX.pem and PREFIX.pub.pem")
    pl = sub.add_parser("payload", help="write the manifest bytes of an envelope (to sign with sigstore)")
    pl.add_argument("--envelope", required=True)
    pl.add_argument("--out", required=True)
    at = sub.add_parser("attach", help="attach a Sigstore bundle (over the payload) to an envelope")
    at.add_argument("--envelope", required=True)
    at.add_argument("--bundle", required=True)
    b = sub.add_parser("build", help="compute measurements and write a signed manifest")
    b.add_argument("--version", required=True)
    b.add_argument("--ovmf")
    b.add_argument("--kernel")
    b.add_argument("--initrd")
    b.add_argument("--cmdline", help="file holding the kernel command line")
    b.add_argument("--vcpus", type=int, action="append")
    b.add_argument("--vcpu-type", action="append", help="sev-snp-measure vCPU type, e.g. EPYC-v4, EPYC-Genoa")
    b.add_argument("--vmm", default="QEMU", choices=["QEMU", "ec2", "gce"])
    b.add_argument("--guest-features", type=lambda s: int(s, 0), default=0x1)
    b.add_argument("--tdvf", help="the TDVF (OVMF for TDX) image: MRTD is computed from its metadata")
    b.add_argument("--tdx-mrtd", help="expected MRTD (96 hex digits): checked against --tdvf, or used alone")
    b.add_argument("--tdx-event-log", help="CCEL event log of a reference boot (RTMR0-2 are replayed)")
    b.add_argument("--image", action="append", metavar="NAME=FILE", help="another artefact to list by digest")
    b.add_argument("--source-repository", default="https://github.com/teecube/teecube")
    b.add_argument("--source-commit")
    b.add_argument("--sign-key", required=True, help="Ed25519 private key (PEM)")
    b.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.cmd == "keygen":
        keygen(args.out)
        return 0
    if args.cmd == "payload":
        payload(args.envelope, args.out)
        return 0
    if args.cmd == "attach":
        attach(args.envelope, args.bundle)
        return 0
    key = serialization.load_pem_private_key(Path(args.sign_key).read_bytes(), None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SystemExit("release_manifest: --sign-key must be an Ed25519 private key")
    envelope = release.sign(build(args), key)
    Path(args.out).write_text(json.dumps(envelope, indent=2) + "\n")
    print(f"wrote {args.out}: signed by release key {release.key_id(key.public_key())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
