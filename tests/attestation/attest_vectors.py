"""The real SEV-SNP vectors of tests/data/vectors/snp and what each must verify to (see its README)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"
SNP = VECTORS / "snp"


@dataclass(frozen=True)
class SnpVector:
    name: str
    product: str
    signer: str  # "vcek" | "vlek"
    now: datetime  # a time at which every certificate is valid
    measurement: str
    debug: bool = False
    vmpl: int = 0

    @property
    def dir(self) -> Path:
        return SNP / self.name

    @property
    def report(self) -> bytes:
        return (self.dir / "report.bin").read_bytes()

    @property
    def cert(self) -> bytes:
        return (self.dir / f"{self.signer}.der").read_bytes()

    @property
    def chain(self) -> bytes:
        suffix = (
            {"Turin": "turin_vcek"}.get(self.product, self.product.lower())
            if self.signer == "vcek"
            else (f"{self.product.lower()}_vlek")
        )
        return (SNP / "roots" / f"ask_ark_{suffix}.pem").read_bytes()


def _t(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


SNP_VECTORS = [
    SnpVector(
        "gosevguest_milan_v2",
        "Milan",
        "vcek",
        _t(2025, 6, 1),
        "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
        debug=True,
    ),
    SnpVector(
        "virtee_milan_v2",
        "Milan",
        "vcek",
        _t(2025, 6, 1),
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
    ),
    SnpVector(
        "coco_milan_v2",
        "Milan",
        "vcek",
        _t(2025, 6, 1),
        "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c",
    ),
    SnpVector(
        "coco_milan_v3_vlek",
        "Milan",
        "vlek",
        _t(2025, 6, 1),
        "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0",
        vmpl=1,
    ),
    SnpVector(
        "coco_genoa_v3",
        "Genoa",
        "vcek",
        _t(2026, 1, 1),
        "6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e",
    ),
    SnpVector(
        "anolis_turin_v5",
        "Turin",
        "vcek",
        _t(2026, 7, 1),
        "a13039badd60b0854bea169b58fd6fe1773981aefbfee98bf32d6cbe7521e5f281c1dd1fa8a44be828e6cf4804871091",
    ),
    SnpVector(
        "anolis_milan_v2_vlek_vmpl1",
        "Milan",
        "vlek",
        _t(2024, 12, 1),
        "f1a99fc07470beb03b1330f4489520af8f0288187ffb661c71f35cab09bea19cd962d4f2d09f5a16c3c38b7da6bed244",
        vmpl=1,
    ),
]
