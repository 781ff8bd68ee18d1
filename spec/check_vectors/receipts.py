"""Receipts and rights records, both JWS verified with jwcrypto (a standard JOSE library, imported only
when a check runs) against jwks.json and hmac-keys.json.

* Receipts: plus the rules of spec/SPEC.md section 2 that are not JOSE's business (exact header, typ,
  payload version, expiry, the form of sealed fields).
* Rights records (the log's records of restrictions, unblockings and erasures, SPEC.md section 6.8): the
  payload read by the rules of SPEC.md (exact members, no duplicate member, nothing after the object,
  version 1, `what`, redactions), and every entry served at an index an erasure names hashed here (RFC 6962
  leaf hash) and compared with the one it logged.
"""
import base64
import hashlib
import json
import re

from .common import b64d, hmac_keys, load


def receipt_keys():
    from jwcrypto import jwk

    public = {k["kid"]: jwk.JWK(**k) for k in load("jwks.json")["keys"]}
    secrets = {
        kid: jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(k).rstrip(b"=").decode())
        for kid, k in hmac_keys("receipt").items()
    }
    return {"EdDSA": public, "HS256": secrets}


SEALED_FIELDS = ("subject_name", "representative")


def sealed_form_ok(s):
    """A sealed field as SPEC.md section 2.5 writes it: exactly enc, n, c; 24-byte nonce; whole blocks."""
    if not isinstance(s, dict) or sorted(s) != ["c", "enc", "n"] or s["enc"] != "xc20p1":
        return False
    if not isinstance(s["n"], str) or not isinstance(s["c"], str):
        return False
    try:
        n, c = b64d(s["n"]), b64d(s["c"])
    except ValueError:
        return False
    return len(n) == 24 and len(c) > 16 and (len(c) - 16) % 32 == 0


def payload_ok(p):
    """The version rules of SPEC.md section 2.2 step 7 that JOSE does not check."""
    if p.get("v") == 1:
        return "personal" not in p
    if p.get("v") == 2:
        personal = p.get("personal")
        return (
            isinstance(personal, dict)
            and set(personal) <= set(SEALED_FIELDS)
            and all(sealed_form_ok(s) for s in personal.values())
            and "representative" not in p
            and "subject_name" not in p.get("kz", {})
        )
    return False


def verify_receipt(v, keys):
    """The payload of a receipt vector that is valid at its verify_at (SPEC.md section 2.2), else None."""
    from jwcrypto import jws

    token = v["jws"]
    if len(token) > 16 * 1024:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(b64d(parts[0]))
        b64d(parts[1])
        b64d(parts[2])
    except ValueError:
        return None
    if sorted(header) != ["alg", "kid", "typ"] or header["typ"] != "consent-receipt+jwt":
        return None
    key = keys.get(header["alg"], {}).get(header["kid"])
    if key is None:
        return None  # unknown kid, alg none, or an alg that is not the key's
    signed = jws.JWS()
    try:
        signed.deserialize(token)
        signed.allowed_algs = [header["alg"]]
        signed.verify(key, alg=header["alg"])
    except Exception:
        return None
    payload = json.loads(signed.payload)
    if not payload_ok(payload) or not payload["iat"] < payload["exp"] or not v["verify_at"] < payload["exp"]:
        return None
    return payload


def check_receipts():
    keys = receipt_keys()
    cases = load("receipts.json")
    for v in cases:
        valid = verify_receipt(v, keys) is not None
        assert valid == v["valid"], f"receipt vector {v['name']}: expected valid={v['valid']}"
    return len(cases)


RIGHTS_MEMBERS = {"v", "iss", "sub", "at", "what", "redacted"}


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate member")
    return dict(pairs)


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def leaf_hash_of(text):
    """The RFC 6962 leaf hash of an entry, standard base64 with padding."""
    return base64.b64encode(hashlib.sha256(b"\x00" + text.encode("utf-8")).digest()).decode()


def rights_payload_ok(p):
    """The payload rules of SPEC.md section 6.8."""
    if not isinstance(p, dict) or not set(p) <= RIGHTS_MEMBERS or not RIGHTS_MEMBERS - {"redacted"} <= set(p):
        return False
    if not is_int(p["v"]) or p["v"] != 1 or not is_int(p["at"]) or not -(2**63) <= p["at"] < 2**63:
        return False
    if not all(isinstance(p[k], str) and p[k] for k in ("iss", "sub")):
        return False
    if p["what"] not in ("restrict", "unblock", "erase"):
        return False
    redacted = p.get("redacted", [])
    if not isinstance(redacted, list) or (redacted and p["what"] != "erase"):
        return False
    for r in redacted:
        if not isinstance(r, dict) or set(r) != {"index", "leaf"} or not is_int(r["index"]) or r["index"] < 0:
            return False
        leaf = r["leaf"]
        if not isinstance(leaf, str) or not re.fullmatch(r"[A-Za-z0-9+/]{43}=", leaf):
            return False
        if base64.b64encode(base64.b64decode(leaf)).decode() != leaf:
            return False  # non-zero unused bits
    indexes = [r["index"] for r in redacted]
    return len(indexes) == len(set(indexes))


def verify_rights_record(v, keys):
    """The payload of a rights-record vector that is valid with the entries it serves, else None."""
    from jwcrypto import jws

    token = v["jws"]
    parts = token.split(".")
    if len(token) > 16 * 1024 or len(parts) != 3:
        return None
    try:
        header = json.loads(b64d(parts[0]), object_pairs_hook=no_duplicates)
        b64d(parts[1])
        b64d(parts[2])
    except ValueError:
        return None
    if not isinstance(header, dict) or sorted(header) != ["alg", "kid", "typ"] or header["typ"] != "consent-rights+jwt":
        return None
    key = keys.get(header["alg"], {}).get(header["kid"])
    if key is None:
        return None
    signed = jws.JWS()
    try:
        signed.deserialize(token)
        signed.allowed_algs = [header["alg"]]
        signed.verify(key, alg=header["alg"])
        payload = json.loads(signed.payload.decode("utf-8"), object_pairs_hook=no_duplicates)
    except Exception:
        return None
    if not rights_payload_ok(payload):
        return None
    served = {s["index"]: s["entry"] for s in v["served"]}
    for r in payload.get("redacted", []):
        if r["index"] not in served or leaf_hash_of(served[r["index"]]) != r["leaf"]:
            return None
    return payload


def check_rights_records():
    keys = receipt_keys()
    cases = load("rights-records.json")
    for v in cases:
        payload = verify_rights_record(v, keys)
        assert (payload is not None) == v["valid"], f"rights-record vector {v['name']}: expected valid={v['valid']}"
        if payload is not None:
            assert payload == v["record"], f"rights-record vector {v['name']}: not the published record"
    assert sum(v["valid"] for v in cases) >= 6 and sum(not v["valid"] for v in cases) >= 15
    return len(cases)
