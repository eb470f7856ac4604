"""RIM XML signatures (XMLDSig ecdsa-sha384 over Canonical XML 1.1) on the real NVIDIA RIMs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from attestation import nvgpu
from attestation.nvgpu.rim import parse_rim, verify_rim
from attestation.nvgpu.xmldsig import XmlSignatureError, verify_xml_signature
from attestation.roots import nvidia_rim_root

NV = Path(__file__).resolve().parents[1] / "data" / "vectors" / "nvgpu"
VBIOS_RIM = NV / "rim/NV_GPU_VBIOS_1010_0200_882_96.00.74.00.1A.swidtag"
DRIVER_RIM = NV / "rim/Driver_RIM_test_no_gpu_545.00.swidtag"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
MEASURED_9 = (
    "059b32e712a153f490dbfb7976a9e275d789e28bd4803c357def2b6123327c430526bfaecc200f496d4e149fc5eade03"
)


@pytest.mark.parametrize("path", [VBIOS_RIM, DRIVER_RIM])
def test_real_rims_verify(path):
    rim = parse_rim(path.read_bytes())
    chain = verify_rim(rim, [nvidia_rim_root()], now=datetime(2024, 1, 1, tzinfo=UTC))
    assert "HCC RIM L4 Signer" in chain.leaf.subject.rfc4514_string()


def _signer():
    return parse_rim(VBIOS_RIM.read_bytes()).certificates[0]


def test_equivalent_serialisations_still_verify():
    text = VBIOS_RIM.read_text()
    # attribute order and quote style are not significant under C14N
    swapped = text.replace('corpus="false" name="GH100"', "name='GH100' corpus='false'", 1)
    assert swapped != text
    verify_xml_signature(swapped, _signer())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # "fix" the known index-9 mismatch by editing the golden value
        ('ns2:Hash0="7f3e9382', f'ns2:Hash0="{MEASURED_9}" x="'),
        ('index="7" active="False"', 'index="7" active="True"'),
        ('colloquialVersion="96.00.74.00.1A"', 'colloquialVersion="96.00.74.00.1B"'),
        ("    </ns0:Payload>", "     </ns0:Payload>"),  # whitespace inside the signed content
        ("<ds:SignatureValue>xWqf", "<ds:SignatureValue>xWqe"),
        ("xml-c14n11\"/></ds:Transforms>", "xml-c14n11\"/><ds:Transform Algorithm=\"x\"/></ds:Transforms>"),
    ],
)
def test_altered_rim_is_rejected(old, new):
    text = VBIOS_RIM.read_text()
    assert old in text
    with pytest.raises(XmlSignatureError):
        verify_xml_signature(text.replace(old, new, 1), _signer())


def test_altered_rim_is_rejected_by_check():
    text = VBIOS_RIM.read_text().replace('ns2:Hash0="7f3e9382', f'ns2:Hash0="{MEASURED_9}" x="', 1)
    report = (NV / "coco_hopper/report.bin").read_bytes()
    chain = (NV / "coco_hopper/cert_chain.pem").read_bytes()
    with pytest.raises(XmlSignatureError):
        nvgpu.check(report, chain, nonce=report[4:36], rims=[text.encode()], now=NOW)


def test_wrong_signer_is_rejected():
    other = parse_rim(DRIVER_RIM.read_bytes()).certificates[0]
    with pytest.raises(XmlSignatureError):
        verify_xml_signature(VBIOS_RIM.read_text(), other)
