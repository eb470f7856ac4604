"""NVIDIA Reference Integrity Manifests (TCG RIM / ISO SWID tag XML).

Parse: the golden measurements (per index, active flag, alternatives Hash0..N), the
version, and the certificate chain in the XML signature's KeyInfo. A RIM is untrusted
input: documents with a DTD, entity declarations or processing of non-UTF-8 encodings
are refused before they reach the XML parser (expat), so no entity can be expanded.

Verify: the embedded chain to the pinned NVIDIA CoRIM signing root, then the XMLDSig
signature (ecdsa-sha384 over Canonical XML 1.1, `attestation.nvgpu.xmldsig`) with the
chain's leaf.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from attestation import certs
from attestation.claims import ParseError
from attestation.nvgpu.xmldsig import XmlSignatureError, verify_xml_signature

SWID_NS = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
SHA384_NS = "http://www.w3.org/2001/04/xmlenc#sha384"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class RimError(ParseError):
    """A RIM document is malformed or unsafe to parse."""


@dataclass(frozen=True, slots=True)
class RimMeasurement:
    index: int  # RIM index; SPDM measurement block index = index + 1
    active: bool
    name: str
    size: int
    alternatives: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Rim:
    tag_id: str
    name: str
    colloquial_version: str
    measurements: tuple[RimMeasurement, ...]
    certificates: tuple[x509.Certificate, ...]  # from the XML signature's KeyInfo, leaf first
    has_signature: bool
    xml_text: str = field(repr=False, default="")

    def active(self) -> dict[int, RimMeasurement]:
        return {m.index: m for m in self.measurements if m.active}


def _screen(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RimError("RIM is not UTF-8") from e
    text = text.removeprefix("\ufeff")
    m = _XML_DECL.match(text)
    if m and m.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise RimError(f"RIM declares encoding {m.group(1)}; only UTF-8 is accepted")
    for pos in (i.start() for i in re.finditer("<!", text)):
        if not (text.startswith("<!--", pos) or text.startswith("<![CDATA[", pos)):
            raise RimError("RIM contains a DTD or declaration (<!DOCTYPE/<!ENTITY): refused")
    return text


def parse_rim(data: bytes) -> Rim:
    text = _screen(data)
    try:
        root = ET.fromstring(text)  # noqa: S314 - screened: no DTD, no entities, UTF-8 only
    except ET.ParseError as e:
        raise RimError(f"RIM is not well-formed XML: {e}") from e
    if root.tag != f"{{{SWID_NS}}}SoftwareIdentity":
        raise RimError(f"RIM root element is {root.tag}, not SWID SoftwareIdentity")
    meta = root.find(f"{{{SWID_NS}}}Meta")
    payload = root.find(f"{{{SWID_NS}}}Payload")
    if meta is None or payload is None:
        raise RimError("RIM lacks Meta or Payload")
    measurements = []
    seen = set()
    for res in payload.iter(f"{{{SWID_NS}}}Resource"):
        if res.get("type") != "Measurement":
            continue
        try:
            index = int(res.get("index", ""))
            n_alt = int(res.get("alternatives", ""))
            size = int(res.get("size", "48"))
            active = {"true": True, "false": False}[res.get("active", "").lower()]
            alts = tuple(bytes.fromhex(res.get(f"{{{SHA384_NS}}}Hash{i}", "")) for i in range(n_alt))
        except (ValueError, KeyError) as e:
            raise RimError(f"RIM measurement {res.get('name')!r} malformed: {e!r}") from e
        if index in seen:
            raise RimError(f"RIM index {index} appears twice")
        if not alts or any(len(a) != size for a in alts):
            raise RimError(f"RIM index {index}: alternatives missing or not {size} bytes")
        seen.add(index)
        measurements.append(RimMeasurement(index, active, res.get("name", ""), size, alts))
    sig = root.find(f"{{{DSIG_NS}}}Signature")
    cert_list: list[x509.Certificate] = []
    if sig is not None:
        for el in sig.iter(f"{{{DSIG_NS}}}X509Certificate"):
            try:
                der = base64.b64decode("".join((el.text or "").split()), validate=True)
                cert_list.append(x509.load_der_x509_certificate(der))
            except certs.DECODE_ERRORS as e:
                raise RimError(f"RIM KeyInfo certificate malformed: {e}") from e
    return Rim(
        tag_id=root.get("tagId", ""),
        name=root.get("name", ""),
        colloquial_version=meta.get("colloquialVersion", ""),
        measurements=tuple(measurements),
        certificates=tuple(cert_list),
        has_signature=sig is not None,
        xml_text=text,
    )


def verify_rim(
    rim: Rim, roots: list[x509.Certificate], *, now: datetime | None = None
) -> certs.ChainResult:
    """The RIM's embedded chain ends at a pinned CoRIM signing root (signatures, CA flags,
    dates) and its XML signature verifies with the chain's leaf. Raises on failure."""
    if not rim.certificates or not rim.has_signature:
        raise XmlSignatureError(f"RIM {rim.colloquial_version}: unsigned or no certificates in KeyInfo")
    chain = certs.verify_chain(list(rim.certificates), roots, now=now)
    verify_xml_signature(rim.xml_text, chain.leaf)
    return chain
