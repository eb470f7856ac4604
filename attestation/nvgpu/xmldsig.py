"""XMLDSig verification for NVIDIA RIMs, exactly the profile NVIDIA signs with and nothing else:

* one `ds:Signature` child of the document element, one `Reference URI=""`;
* transforms: enveloped-signature, then Canonical XML 1.1 (no comments);
* CanonicalizationMethod Canonical XML 1.1; DigestMethod SHA-384;
  SignatureMethod ecdsa-sha384 with a raw r‖s SignatureValue;
* the key is the first certificate of KeyInfo (its chain is checked by the caller).

Canonical XML 1.1 is implemented here for documents without DTDs (the RIM parser refuses
those), comments or processing instructions: inclusive namespace rendering, sorted
attributes, empty elements as start/end pairs, C14N escaping. pyexpat runs without
namespace processing so prefixes and declarations are kept as written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from xml.parsers import expat

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from attestation import certs
from attestation.claims import ParseError, VerificationError

DSIG = "http://www.w3.org/2000/09/xmldsig#"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
SHA384_URIS = ("http://www.w3.org/2001/04/xmldsig-more#sha384", "http://www.w3.org/2001/04/xmlenc#sha384")


class XmlSignatureError(VerificationError):
    """The RIM's XML signature is missing, of an unsupported profile, or does not verify."""


@dataclass(eq=False)
class _El:
    qname: str
    attrs: list[tuple[str, str]]
    parent: _El | None
    children: list[_El | str] = field(default_factory=list)
    ns: dict[str, str] = field(default_factory=dict)  # in-scope prefix → URI ("" = default)

    def uri_of(self, qname: str, *, attribute: bool) -> tuple[str, str]:
        prefix, _, local = qname.rpartition(":")
        if not prefix and attribute:
            return "", local
        if prefix == "xml":
            return "http://www.w3.org/XML/1998/namespace", local
        uri = self.ns.get(prefix)
        if uri is None and prefix:
            raise ParseError(f"undeclared namespace prefix {prefix!r}")
        return uri or "", local

    def elements(self) -> list[_El]:
        return [c for c in self.children if isinstance(c, _El)]

    def find(self, uri: str, local: str) -> list[_El]:
        return [c for c in self.elements() if c.uri_of(c.qname, attribute=False) == (uri, local)]

    def text(self) -> str:
        return "".join(c for c in self.children if isinstance(c, str))

    def attr(self, name: str) -> str | None:
        return next((v for k, v in self.attrs if k == name), None)


def _parse(text: str) -> _El:
    p = expat.ParserCreate()
    p.ordered_attributes = True
    p.buffer_text = True
    stack: list[_El] = []
    root: list[_El] = []

    def start(name: str, attrs: list[str]) -> None:
        parent = stack[-1] if stack else None
        pairs = list(zip(attrs[::2], attrs[1::2], strict=True))
        el = _El(name, pairs, parent, ns=dict(parent.ns) if parent else {})
        for k, v in pairs:
            if k == "xmlns":
                el.ns[""] = v
            elif k.startswith("xmlns:"):
                el.ns[k[6:]] = v
        if parent is None:
            if root:
                raise ParseError("more than one document element")
            root.append(el)
        else:
            parent.children.append(el)
        stack.append(el)

    def end(_name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].children.append(data)

    def refuse(*_: object) -> None:
        raise ParseError("processing instructions, comments and DTDs are not supported in a RIM")

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.ProcessingInstructionHandler = refuse
    p.CommentHandler = refuse
    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    try:
        p.Parse(text.encode("utf-8"), True)
    except expat.ExpatError as e:
        raise ParseError(f"XML not well-formed: {e}") from e
    if not root:
        raise ParseError("no document element")
    return root[0]


def _esc_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")


def _esc_attr(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


def _c14n(el: _El, rendered: dict[str, str], skip: _El | None, out: list[str]) -> None:
    ns_out = []
    for prefix, uri in el.ns.items():
        if prefix == "" and uri == "" and rendered.get("", "") == "":
            continue
        if rendered.get(prefix) != uri:
            ns_out.append((prefix, uri))
    ns_out.sort(key=lambda pu: (pu[0] != "", pu[0]))
    attrs = [(el.uri_of(k, attribute=True), k, v) for k, v in el.attrs
             if k != "xmlns" and not k.startswith("xmlns:")]
    attrs.sort(key=lambda a: a[0])
    out.append("<" + el.qname)
    for prefix, uri in ns_out:
        out.append(f' xmlns{":" + prefix if prefix else ""}="{_esc_attr(uri)}"')
    for _, k, v in attrs:
        out.append(f' {k}="{_esc_attr(v)}"')
    out.append(">")
    inner = dict(rendered)
    inner.update(ns_out)
    for child in el.children:
        if isinstance(child, str):
            out.append(_esc_text(child))
        elif child is not skip:
            _c14n(child, inner, skip, out)
    out.append(f"</{el.qname}>")


def canonicalize(el: _El, skip: _El | None = None) -> bytes:
    """Canonical XML 1.1 (without comments) of the subtree at `el`, leaving out `skip`."""
    out: list[str] = []
    _c14n(el, {}, skip, out)
    return "".join(out).encode("utf-8")


def _one(el: _El, local: str) -> _El:
    found = el.find(DSIG, local)
    if len(found) != 1:
        raise XmlSignatureError(f"expected exactly one ds:{local}, found {len(found)}")
    return found[0]


def _algorithm(el: _El, local: str) -> str:
    return _one(el, local).attr("Algorithm") or ""


def verify_xml_signature(text: str, signer: x509.Certificate) -> None:
    """Verify the enveloped XMLDSig of a RIM with `signer`'s key. Raises XmlSignatureError."""
    try:
        root = _parse(text)
        sig = _one(root, "Signature")
        signed_info = _one(sig, "SignedInfo")
        if _algorithm(signed_info, "CanonicalizationMethod") != C14N11:
            raise XmlSignatureError("SignedInfo canonicalization is not C14N 1.1")
        if _algorithm(signed_info, "SignatureMethod") != ECDSA_SHA384:
            raise XmlSignatureError("signature method is not ecdsa-sha384")
        ref = _one(signed_info, "Reference")
        if ref.attr("URI") != "":
            raise XmlSignatureError("reference is not to the whole document (URI=\"\")")
        transforms = [t.attr("Algorithm") for t in _one(ref, "Transforms").find(DSIG, "Transform")]
        if transforms not in ([ENVELOPED, C14N11], [ENVELOPED]):
            raise XmlSignatureError(f"unsupported transforms {transforms}")
        if _algorithm(ref, "DigestMethod") not in SHA384_URIS:
            raise XmlSignatureError("digest method is not SHA-384")
        expected = base64.b64decode("".join(_one(ref, "DigestValue").text().split()), validate=True)
        digest = hashlib.sha384(canonicalize(root, skip=sig)).digest()
        if not hmac.compare_digest(digest, expected):
            raise XmlSignatureError("RIM digest does not match its signed Reference (content altered)")
        raw_sig = base64.b64decode("".join(_one(sig, "SignatureValue").text().split()), validate=True)
        key = signer.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
            raise XmlSignatureError("RIM signer key is not ECDSA P-384")
        key.verify(certs.ecdsa_raw_to_der(raw_sig), canonicalize(signed_info), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as e:
        raise XmlSignatureError("RIM SignedInfo signature does not verify") from e
    except (ParseError, ValueError) as e:
        raise XmlSignatureError(f"RIM signature malformed: {e}") from e
