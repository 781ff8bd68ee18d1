"""Sealed receipts (payload version 2, SPEC.md section 2.5): verified as receipts, then every sealed name
opened with its data key (data-keys.json) by XChaCha20-Poly1305: the names equal the published ones, or do
not open where a vector says so (wrong key, tampered or moved ciphertext).

`cryptography` (installed with jwcrypto, imported only when a check runs) has ChaCha20-Poly1305 (RFC 8439)
but not the extended-nonce variant: HChaCha20 is written here from draft-irtf-cfrg-xchacha-03 section 2.2,
and checked against the draft's own test vectors.
"""
import struct

from .common import b64d, load
from .receipts import receipt_keys, verify_receipt


MASK32 = 0xFFFFFFFF


def rotl32(v, c):
    return ((v << c) & MASK32) | (v >> (32 - c))


def quarter_round(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = rotl32(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = rotl32(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = rotl32(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = rotl32(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    """draft-irtf-cfrg-xchacha-03 section 2.2: the ChaCha20 block's 20 rounds without the final addition;
    the subkey is state words 0-3 and 12-15."""
    assert len(key) == 32 and len(nonce16) == 16
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        quarter_round(s, 0, 4, 8, 12)
        quarter_round(s, 1, 5, 9, 13)
        quarter_round(s, 2, 6, 10, 14)
        quarter_round(s, 3, 7, 11, 15)
        quarter_round(s, 0, 5, 10, 15)
        quarter_round(s, 1, 6, 11, 12)
        quarter_round(s, 2, 7, 8, 13)
        quarter_round(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha20poly1305(key, nonce24):
    """AEAD_XCHACHA20_POLY1305 (draft section 2.3) as (cipher, 12-byte nonce) for `cryptography`'s
    ChaCha20Poly1305: the HChaCha20 subkey of the first 16 nonce bytes, and 4 zero bytes || the last 8."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    assert len(nonce24) == 24
    return ChaCha20Poly1305(hchacha20(key, nonce24[:16])), b"\0\0\0\0" + nonce24[16:]


def check_xchacha_self_test():
    """The draft's HChaCha20 test vector (section 2.2.1) and its AEAD test vector (appendix A.3.1)."""
    subkey = hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927"))
    assert subkey.hex() == "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc", "HChaCha20"
    plaintext = (
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
        b"sunscreen would be it."
    )
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    key = bytes(range(0x80, 0xA0))
    nonce = bytes(range(0x40, 0x58))
    expected = bytes.fromhex(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39"
        "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e"
        "c0875924c1c7987947deafd8780acf49"  # the tag
    )
    cipher, n12 = xchacha20poly1305(key, nonce)
    assert cipher.encrypt(n12, plaintext, aad) == expected, "XChaCha20-Poly1305 encryption"
    assert cipher.decrypt(n12, expected, aad) == plaintext, "XChaCha20-Poly1305 decryption"
    return 2


def open_sealed(key, jti, field, sealed):
    """The name in a sealed field (SPEC.md section 2.5), or None if it does not open."""
    from cryptography.exceptions import InvalidTag

    aad = b"consent-receipt/v2\0" + jti.encode("ascii") + b"\0" + field.encode("ascii")
    cipher, n12 = xchacha20poly1305(key, b64d(sealed["n"]))
    try:
        padded = cipher.decrypt(n12, b64d(sealed["c"]), aad)
    except InvalidTag:
        return None
    body = padded.rstrip(b"\0")
    if not body.endswith(b"\x80") or len(padded) % 32 or len(padded) - len(body) >= 32:
        return None
    try:
        name = body[:-1].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name or None


def check_sealed_receipts():
    keys = receipt_keys()
    data_keys = {k["kid"]: b64d(k["k"]) for k in load("data-keys.json")["keys"] if k["use"] == "data-key"}
    cases = load("sealed-receipts.json")
    seen = set()
    for v in cases:
        payload = verify_receipt(v, keys)
        assert (payload is not None) == v["valid"], f"sealed receipt vector {v['name']}: expected valid={v['valid']}"
        if payload is None:
            continue
        assert payload["v"] == 2, f"sealed receipt vector {v['name']}: version {payload['v']}"
        personal = payload["personal"]
        if v["data_key"] is None:
            got = {field: {"erased": True} for field in personal}
            seen.add("erased")
        else:
            key = data_keys[v["data_key"]]
            got = {field: open_sealed(key, payload["jti"], field, s) for field, s in personal.items()}
            opens = None not in got.values()
            assert opens == v["opens"], f"sealed receipt vector {v['name']}: expected opens={v['opens']}"
            seen.add("opens" if opens else "refused")
            if not opens:
                continue
        assert got == v["personal"], f"sealed receipt vector {v['name']}: {got} != {v['personal']}"
    assert seen == {"erased", "opens", "refused"}, f"sealed receipts of every kind: {seen}"
    return len(cases)
