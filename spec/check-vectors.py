#!/usr/bin/env python3
"""Checks spec/vectors with implementations independent of ours.

* Policies: the SHA-256 of each canonical file equals the published hash, and re-serialising the canonical
  JSON with sorted keys, no whitespace and raw UTF-8 gives the same bytes.
* Receipts: verified with jwcrypto (a standard JOSE library) against jwks.json and hmac-keys.json, plus the
  rules of spec/SPEC.md that are not JOSE's business (exact header, typ, payload version, expiry).
* Tokens: decoded and verified by a from-scratch implementation of the token format in SPEC.md.

Every vector marked valid must pass and every one marked invalid must fail.
Usage: check-vectors.py [VECTORS_DIR]   (jwcrypto needed for the receipt part: pip install jwcrypto)
"""
import base64
import hashlib
import hmac
import json
import pathlib
import re
import struct
import sys

vectors = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "spec/vectors")
B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def load(name):
    return json.loads((vectors / name).read_text(encoding="utf-8"))


def b64d(s):
    if not B64URL.match(s) or len(s) % 4 == 1:
        raise ValueError("not base64url without padding")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != s:
        raise ValueError("non-canonical base64url")
    return raw


def check_policies():
    index = load("policies.json")
    for entry in index:
        raw = (vectors / entry["canonical"]).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        assert digest == entry["sha256"], f"{entry['name']}: sha256 {digest} != {entry['sha256']}"
        again = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert again == raw, f"{entry['name']}: not the sorted-key re-serialisation"
    return len(index)


def hmac_keys(usage):
    return {k["kid"]: b64d(k["k"]) for k in load("hmac-keys.json")["keys"] if k["use"] == usage}


def check_receipts():
    from jwcrypto import jwk, jws

    public = {k["kid"]: k for k in load("jwks.json")["keys"]}
    secrets = hmac_keys("receipt")

    def verify(v):
        token = v["jws"]
        if len(token) > 16 * 1024:
            return False
        parts = token.split(".")
        if len(parts) != 3:
            return False
        try:
            header = json.loads(b64d(parts[0]))
            b64d(parts[1])
            b64d(parts[2])
        except ValueError:
            return False
        if sorted(header) != ["alg", "kid", "typ"] or header["typ"] != "consent-receipt+jwt":
            return False
        if header["alg"] == "EdDSA" and header["kid"] in public:
            key = jwk.JWK(**public[header["kid"]])
        elif header["alg"] == "HS256" and header["kid"] in secrets:
            key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(secrets[header["kid"]]).rstrip(b"=").decode())
        else:
            return False  # unknown kid, alg none, or an alg that is not the key's
        signed = jws.JWS()
        try:
            signed.deserialize(token)
            signed.allowed_algs = [header["alg"]]
            signed.verify(key, alg=header["alg"])
        except Exception:
            return False
        payload = json.loads(signed.payload)
        return payload.get("v") == 1 and v["verify_at"] < payload["exp"]

    cases = load("receipts.json")
    for v in cases:
        assert verify(v) == v["valid"], f"receipt vector {v['name']}: expected valid={v['valid']}"
    return len(cases)


def check_tokens():
    keys = hmac_keys("consent-token")

    def verify(v):
        text = v["token"]
        if len(text) > 256:
            return False
        try:
            raw = b64d(text)
        except ValueError:
            return False
        if len(raw) < 2 or raw[0] != 1:
            return False
        k = raw[1]
        body_len = 2 + k + 2 + 4 + 4 + 16 + 16 + 8 + 8
        if k < 1 or k > 16 or len(raw) != body_len + 16:
            return False
        kid = raw[2 : 2 + k].decode("ascii", "replace")
        if kid not in keys:
            return False
        body, tag = raw[:body_len], raw[body_len:]
        expected = hmac.new(keys[kid], b"consent-token/v1\x00" + body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, tag):
            return False
        _days, issued, expires = struct.unpack(">HII", raw[2 + k : 2 + k + 10])
        given, refused = struct.unpack(">QQ", raw[body_len - 16 : body_len])
        if expires <= issued or given & refused:
            return False
        return v["verify_at"] < expires

    cases = load("tokens.json")
    for v in cases:
        assert verify(v) == v["valid"], f"token vector {v['name']}: expected valid={v['valid']}"
        if v["valid"]:
            assert len(v["token"]) <= 180, f"token vector {v['name']} is {len(v['token'])} characters"
    return len(cases)


parts = [f"{check_policies()} policy", f"{check_tokens()} token"]
try:
    import jwcrypto  # noqa: F401
except ImportError:
    print("jwcrypto is not installed: receipt vectors not checked independently", file=sys.stderr)
    if "--require-jwcrypto" in sys.argv:
        sys.exit(1)
else:
    parts.append(f"{check_receipts()} receipt")
print("independent check passed: " + ", ".join(parts) + " vectors")
