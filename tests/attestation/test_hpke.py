"""HPKE base mode against RFC 9180 Appendix A.1.1 and against `cryptography`'s own single-shot HPKE."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hpke as crypto_hpke
from cryptography.hazmat.primitives.asymmetric import x25519

from attestation import hpke

H = bytes.fromhex
# RFC 9180 A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
INFO = H("4f6465206f6e2061204772656369616e2055726e")
SK_E = H("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
SK_R = H("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
PK_R = H("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
ENC = H("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
KEY = H("4531685d41d65f03dc48f6b8302c05b0")
BASE_NONCE = H("56d890e5accaaf011cff4b7d")
EXPORTER_SECRET = H("45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8")
PT = H("4265617574792069732074727574682c20747275746820626561757479")
CTS = [
    (H("436f756e742d30"),
     H("f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a")),
    (H("436f756e742d31"),
     H("af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84")),
]
EXPORTS = [
    (b"", H("3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee")),
    (H("00"), H("2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5")),
    (b"TestContext", H("e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931")),
]


def _sk(b: bytes) -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.from_private_bytes(b)


def test_rfc9180_a1_1_sender():
    pk_r = _sk(SK_R).public_key()
    assert hpke._raw(pk_r) == PK_R
    enc, ctx = hpke.setup_sender(pk_r, INFO, ephemeral=_sk(SK_E))
    assert (enc, ctx.key, ctx.base_nonce, ctx.exporter_secret) == (ENC, KEY, BASE_NONCE, EXPORTER_SECRET)
    for aad, ct in CTS:
        assert ctx.seal(PT, aad) == ct
    for context, value in EXPORTS:
        assert ctx.export(context, 32) == value


def test_rfc9180_a1_1_receiver():
    ctx = hpke.setup_receiver(ENC, _sk(SK_R), INFO)
    for aad, ct in CTS:
        assert ctx.open(ct, aad) == PT
    assert ctx.export(b"TestContext", 32) == EXPORTS[2][1]


def test_out_of_order_or_tampered_ciphertexts_do_not_open():
    ctx = hpke.setup_receiver(ENC, _sk(SK_R), INFO)
    with pytest.raises(hpke.HpkeError):
        ctx.open(CTS[1][1], CTS[1][0])  # sequence 1 at sequence 0
    ctx = hpke.setup_receiver(ENC, _sk(SK_R), INFO)
    bad = bytearray(CTS[0][1])
    bad[0] ^= 1
    with pytest.raises(hpke.HpkeError):
        ctx.open(bytes(bad), CTS[0][0])
    with pytest.raises(hpke.HpkeError):
        hpke.setup_receiver(ENC, _sk(SK_R), b"other info").open(CTS[0][1], CTS[0][0])


SUITE = crypto_hpke.Suite(crypto_hpke.KEM.X25519, crypto_hpke.KDF.HKDF_SHA256, crypto_hpke.AEAD.AES_128_GCM)


def test_interoperates_with_cryptography_single_shot_both_ways():
    key = hpke.KeyPair.generate()
    sealed = SUITE.encrypt(b"hello from cryptography", key.private.public_key(), info=b"i")
    ctx = hpke.setup_receiver(sealed[:32], key.private, b"i")
    assert ctx.open(sealed[32:]) == b"hello from cryptography"
    enc, ctx = hpke.setup_sender(key.private.public_key(), b"i")
    sealed = enc + ctx.seal(b"hello from teecube")
    assert SUITE.decrypt(sealed, key.private, info=b"i") == b"hello from teecube"


def test_malformed_keys_raise_hpke_errors():
    with pytest.raises(hpke.HpkeError):
        hpke.setup_receiver(b"short", _sk(SK_R), b"")
    with pytest.raises(hpke.HpkeError):
        hpke.setup_receiver(bytes(32), _sk(SK_R), b"")  # the zero point: all-zero DH output
    with pytest.raises(hpke.HpkeError):
        hpke.public_key_from_bytes(b"\x01" * 31)
