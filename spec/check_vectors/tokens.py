"""Tokens (SPEC.md section 3): decoded and verified by a from-scratch implementation of the token format
(versions 1 and 2); the claims of every valid token equal the published ones, subject kind included."""
import base64
import datetime
import hashlib
import hmac
import re
import struct
import uuid

from .common import b64d, hmac_keys, load


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
