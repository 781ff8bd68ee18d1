#!/usr/bin/env python3
"""Checks spec/vectors with implementations independent of ours.

* Policies: the SHA-256 of each canonical file equals the published hash, and re-serialising the canonical
  JSON with sorted keys, no whitespace and raw UTF-8 gives the same bytes.
* Receipts: verified with jwcrypto (a standard JOSE library) against jwks.json and hmac-keys.json, plus the
  rules of spec/SPEC.md that are not JOSE's business (exact header, typ, payload version, expiry).
* Tokens: decoded and verified by a from-scratch implementation of the token format in SPEC.md (versions 1
  and 2); the claims of every valid token equal the published ones, subject kind included.

Every vector marked valid must pass and every one marked invalid must fail.
Usage: check-vectors.py [VECTORS_DIR]   (jwcrypto needed for the receipt part: pip install jwcrypto)
"""
import base64
import datetime
import hashlib
import hmac
import json
import pathlib
import re
import struct
import sys
import uuid

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
    policy = next(e for e in load("policies.json") if e["name"] == "invisionu-2025-03-26")
    purposes = {p["code"]: p["id"] for p in load(policy["canonical"])["purposes"]}
    domains = {1: b"consent-token/v1\x00", 2: b"consent-token/v2\x00"}
    kinds = {1: "device", 2: "person"}

    def decode(text):
        """The claims of a token that decodes and verifies (SPEC.md section 3), or None."""
        if len(text) > 256:
            return None
        try:
            raw = b64d(text)
        except ValueError:
            return None
        if len(raw) < 2 or raw[0] not in domains:
            return None
        version, k = raw[0], raw[1]
        # Version 2 has the subject kind byte before the subject; version 1 has none.
        kind_len = 1 if version == 2 else 0
        body_len = 2 + k + 2 + 4 + 4 + kind_len + 16 + 16 + 8 + 8
        if k < 1 or k > 16 or len(raw) != body_len + 16:
            return None
        kid = raw[2 : 2 + k].decode("ascii", "replace")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,16}", kid):
            return None
        at = 2 + k
        days, issued, expires = struct.unpack(">HII", raw[at : at + 10])
        at += 10
        kind = kinds.get(raw[at]) if version == 2 else "unknown"
        if kind is None:
            return None
        at += kind_len
        subject, receipt = raw[at : at + 16], raw[at + 16 : at + 32]
        given, refused = struct.unpack(">QQ", raw[at + 32 : body_len])
        if expires <= issued or given & refused:
            return None
        if kid not in keys:
            return None
        body, tag = raw[:body_len], raw[body_len:]
        expected = hmac.new(keys[kid], domains[version] + body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, tag):
            return None
        day = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
        return {
            "version": version,
            "policy_version": day.isoformat(),
            "issued_at": issued,
            "expires_at": expires,
            "subject_kind": kind,
            "subject": base64.urlsafe_b64encode(subject).rstrip(b"=").decode(),
            "receipt": str(uuid.UUID(bytes=receipt)),
            "given": [purposes[c] for c in sorted(purposes) if given >> c & 1],
            "refused": [purposes[c] for c in sorted(purposes) if refused >> c & 1],
        }

    cases = load("tokens.json")
    kinds_seen = set()
    for v in cases:
        claims = decode(v["token"])
        valid = claims is not None and v["verify_at"] < claims["expires_at"]
        assert valid == v["valid"], f"token vector {v['name']}: expected valid={v['valid']}"
        if v["valid"]:
            assert claims == v["claims"], f"token vector {v['name']}: {claims} != {v['claims']}"
            assert len(v["token"]) == v["length"] <= 180, f"token vector {v['name']} is {len(v['token'])} characters"
            kinds_seen.add(claims["subject_kind"])
    assert kinds_seen == {"device", "person", "unknown"}, f"valid tokens of every kind: {kinds_seen}"
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
