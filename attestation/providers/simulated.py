"""Simulated SEV-SNP: real 1184-byte reports (v3 or v5) signed by a local test chain.

ARK-Simulated (RSA-2048, RSASSA-PSS SHA-384) -> SEV-Simulated (ASK) -> SEV-VCEK (P-384, with
AMD's KDS extensions: SPLs, hwID, productName "Simulated"), generated once and cached under
the state directory. Clients accept it only when told to trust `simulated-root.pem`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from attestation import der, release
from attestation.providers.base import Evidence
from attestation.snp import SIMULATED_PRODUCT, kds
from attestation.snp.abi import REPORT_SIZE, SIGNED_SIZE

DEFAULT_STATE_DIR = Path("var/attestation")
ROOT_FILE = "simulated-root.pem"
DEFAULT_MEASUREMENT = hashlib.sha384(b"teecube simulated guest image").digest()
DEFAULT_TCB = {"bl": 3, "tee": 0, "snp": 8, "ucode": 115}  # Milan/Genoa TCB layout
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "teecube SIMULATED (not AMD)"),
        ]
    )


def _ext(oid: str, value: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value)


def tcb_raw(tcb: dict[str, int]) -> int:
    """Milan/Genoa TCB_VERSION layout: byte0 BL, byte1 TEE, byte6 SNP, byte7 UCODE."""
    b = bytearray(8)
    b[0], b[1], b[6], b[7] = tcb["bl"], tcb["tee"], tcb["snp"], tcb["ucode"]
    return int.from_bytes(b, "little")


class SimulatedSnp:
    kind = "simulated"

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        measurement: bytes = DEFAULT_MEASUREMENT,
        version: int = 3,
        policy: int = 0x30000,
        vmpl: int = 0,
        tcb: dict[str, int] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
        self.measurement = measurement
        self.version = version
        self.policy = policy
        self.vmpl = vmpl
        self.tcb = dict(tcb or DEFAULT_TCB)
        self._load_or_create()

    @property
    def root_path(self) -> Path:
        return self.state_dir / ROOT_FILE

    @property
    def root_pem(self) -> bytes:
        """The demo's trust file: the test ARK, then the demo release key (for simulated evidence only)."""
        return self.ark.public_bytes(serialization.Encoding.PEM) + release.public_pem(self._release_key)

    def release_manifests(self) -> list[dict[str, object]]:
        """The demo's release manifest: this image's measurement, signed by the demo release key."""
        manifest = release.new_manifest(
            "demo (simulated)", [{"platform": "simulated", "measurement": self.measurement.hex()}],
            source={"note": "teecube serve --demo: simulated TEE, demo release key"},
        )
        return [release.sign(manifest, self._release_key)]

    @property
    def chain_pem(self) -> bytes:
        return self.ask.public_bytes(serialization.Encoding.PEM) + self.root_pem

    # -- the test chain -----------------------------------------------------------

    def _load_or_create(self) -> None:
        self._load_or_create_chain()
        path = self.state_dir / "demo-release.key"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), None)
            assert isinstance(key, ed25519.Ed25519PrivateKey)
            self._release_key = key
        else:
            self._release_key = ed25519.Ed25519PrivateKey.generate()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(self._release_key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        # Atomically: several processes (proxy workers) open the provider at once and read this file.
        tmp = self.root_path.with_name(f"{ROOT_FILE}.{os.getpid()}.tmp")
        tmp.write_bytes(self.root_pem)
        os.replace(tmp, self.root_path)

    def _load_or_create_chain(self) -> None:
        d = self.state_dir
        files = [d / n for n in ("simulated-ark.key", "simulated-ask.key", "simulated-vcek.key", ROOT_FILE)]
        if all(f.exists() for f in files):
            load = serialization.load_pem_private_key
            ark_key, ask_key, vcek_key = (load(f.read_bytes(), None) for f in files[:3])
            if not (
                isinstance(ark_key, rsa.RSAPrivateKey)
                and isinstance(ask_key, rsa.RSAPrivateKey)
                and isinstance(vcek_key, ec.EllipticCurvePrivateKey)
            ):
                raise ValueError(f"the simulated chain keys under {d} are not RSA, RSA and EC keys")
            self._ark_key, self._ask_key, self._vcek_key = ark_key, ask_key, vcek_key
            self.ark = x509.load_pem_x509_certificate(files[3].read_bytes())
            self.ask = x509.load_pem_x509_certificate((d / "simulated-ask.pem").read_bytes())
            self.vcek_der = (d / "simulated-vcek.der").read_bytes()
            return
        d.mkdir(parents=True, exist_ok=True)
        self._ark_key = rsa.generate_private_key(65537, 2048)
        self._ask_key = rsa.generate_private_key(65537, 2048)
        self._vcek_key = ec.generate_private_key(ec.SECP384R1())
        now = datetime.now(UTC) - timedelta(days=1)
        ark_name, ask_name = _name("ARK-Simulated"), _name("SEV-Simulated")
        ca = x509.BasicConstraints(ca=True, path_length=None)
        self.ark = (
            x509.CertificateBuilder()
            .subject_name(ark_name)
            .issuer_name(ark_name)
            .public_key(self._ark_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(ca, critical=True)
            .sign(self._ark_key, hashes.SHA384(), rsa_padding=PSS)
        )
        self.ask = (
            x509.CertificateBuilder()
            .subject_name(ask_name)
            .issuer_name(ark_name)
            .public_key(self._ask_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(ca, critical=True)
            .sign(self._ark_key, hashes.SHA384(), rsa_padding=PSS)
        )
        vcek = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SEV-VCEK")]))
            .issuer_name(ask_name)
            .public_key(self._vcek_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(_ext(kds.OID_STRUCT_VERSION, der.encode_int(1)), critical=False)
            .add_extension(
                _ext(kds.OID_PRODUCT_NAME, der.encode(der.IA5_STRING, b"Simulated")), critical=False
            )
        )
        for part in ("bl", "tee", "snp", "ucode"):
            vcek = vcek.add_extension(
                _ext(kds.SPL_OIDS[part], der.encode_int(self.tcb[part])), critical=False
            )
        vcek = vcek.add_extension(_ext(kds.OID_HWID, self.chip_id), critical=False)
        self.vcek_der = vcek.sign(self._ask_key, hashes.SHA384(), rsa_padding=PSS).public_bytes(
            serialization.Encoding.DER
        )
        pem = serialization.Encoding.PEM
        for name, key in (("ark", self._ark_key), ("ask", self._ask_key), ("vcek", self._vcek_key)):
            path = d / f"simulated-{name}.key"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(
                    key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                )
        (d / "simulated-ask.pem").write_bytes(self.ask.public_bytes(pem))
        (d / "simulated-vcek.der").write_bytes(self.vcek_der)
        (d / ROOT_FILE).write_bytes(self.ark.public_bytes(pem))

    @property
    def chip_id(self) -> bytes:
        spki = self._vcek_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha512(b"teecube simulated chip id" + spki).digest()

    # -- reports --------------------------------------------------------------------

    def make_report(self, report_data: bytes, *, reported_tcb: dict[str, int] | None = None) -> bytes:
        """A signed report with real offsets; `reported_tcb` overrides REPORTED_TCB (for tests)."""
        if len(report_data) != 64:
            raise ValueError("report_data must be 64 bytes")
        b = bytearray(REPORT_SIZE)

        def put(off: int, value: int, size: int) -> None:
            b[off : off + size] = value.to_bytes(size, "little")

        tcb = tcb_raw(self.tcb)
        put(0x000, self.version, 4)
        put(0x008, self.policy, 8)
        put(0x030, self.vmpl, 4)
        put(0x034, 1, 4)  # ECDSA P-384 with SHA-384
        put(0x038, tcb, 8)
        put(0x040, 0x1, 8)  # PLATFORM_INFO: SMT enabled
        b[0x050:0x090] = report_data
        b[0x090:0x0C0] = self.measurement
        b[0x140:0x160] = secrets.token_bytes(32)
        put(0x180, tcb_raw(reported_tcb) if reported_tcb else tcb, 8)
        # CPUID family/model/stepping stay 0: no real product line, the chain says "Simulated".
        b[0x1A0:0x1E0] = self.chip_id
        put(0x1E0, tcb, 8)
        b[0x1E8:0x1EB] = bytes([0, 55, 1])  # build 0, minor 55, major 1
        b[0x1EC:0x1EF] = bytes([0, 55, 1])
        put(0x1F0, tcb, 8)
        if self.version >= 5:
            put(0x1F8, 0x3F, 8)
            put(0x200, 0x3F, 8)
        sig = self._vcek_key.sign(bytes(b[:SIGNED_SIZE]), ec.ECDSA(hashes.SHA384()))
        r, s = decode_dss_signature(sig)
        put(0x2A0, r, 72)
        put(0x2A0 + 72, s, 72)
        return bytes(b)

    def get_evidence(self, report_data: bytes) -> Evidence:
        return Evidence(
            kind="simulated",
            report=self.make_report(report_data),
            certs={"vcek": self.vcek_der, "chain": self.chain_pem},
            product=SIMULATED_PRODUCT,
            source="simulated",
        )
