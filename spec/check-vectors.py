#!/usr/bin/env python3
"""Checks spec/vectors with implementations independent of ours.

* Policies: the SHA-256 of each canonical file equals the published hash, and re-serialising the canonical
  JSON with sorted keys, no whitespace and raw UTF-8 gives the same bytes.
* Receipts: verified with jwcrypto (a standard JOSE library) against jwks.json and hmac-keys.json, plus the
  rules of spec/SPEC.md that are not JOSE's business (exact header, typ, payload version, expiry).
* Rights records (the log's records of restrictions, unblockings and erasures, SPEC.md section 6.8): the JWS
  verified with jwcrypto as receipts are, then the payload read by the rules of SPEC.md (exact members, no
  duplicate member, nothing after the object, version 1, `what`, redactions), and every entry served at an
  index an erasure names hashed here (RFC 6962 leaf hash) and compared with the one it logged.
* Sealed receipts (payload version 2): verified as receipts, then every sealed name opened with its data key
  (data-keys.json) by XChaCha20-Poly1305 built here from draft-irtf-cfrg-xchacha-03 (HChaCha20, checked
  against the draft's test vectors) on `cryptography`'s ChaCha20-Poly1305: the names equal the published
  ones, or do not open where a vector says so (wrong key, tampered or moved ciphertext).
* Tokens: decoded and verified by a from-scratch implementation of the token format in SPEC.md (versions 1
  and 2); the claims of every valid token equal the published ones, subject kind included.
* The consent log (log/): the tree's leaf hashes and roots by RFC 6962's recursive definition; every valid
  proof equals RFC 6962's PATH or SUBPROOF of the entries, and a verifier written from Go's tlog (recursive,
  where the library walks bits as RFC 9162 does) accepts exactly the valid ones; the tiles and entry bundles
  are what C2SP tlog-tiles makes of the entries; notes, checkpoints, cosignatures and tlog-proofs are parsed
  as C2SP specifies and their Ed25519 signatures checked with `cryptography` (installed with jwcrypto).

Every vector marked valid must pass and every one marked invalid must fail.
Usage: check-vectors.py [VECTORS_DIR]   (jwcrypto needed for the receipt and log signature parts: pip install jwcrypto)
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
        full = json.loads(raw)
        assert sorted(entry["banner_views"]) == sorted(full["languages"]), entry["name"]
        for lang, file in entry["banner_views"].items():
            view = json.dumps(banner_view(full, lang, digest), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert view.encode() == (vectors / file).read_bytes(), f"{file}: not the banner view of {entry['canonical']}"
    return len(index)


def banner_view(full, lang, sha256):
    """The banner view (spec/POLICY.md, "Banner view") derived from the canonical policy."""
    lang = lang if lang in full["languages"] else full["default_language"]

    def one(texts):
        for key in (lang, full["default_language"], min(texts)):
            if key in texts:
                return {key: texts[key]}

    def pick(obj, keys):
        return {k: obj[k] for k in keys if k in obj}

    view = pick(full, ["id", "version", "url", "languages", "default_language", "choice_validity_months"])
    view.update(view=1, policy_sha256=sha256, language=lang, title=one(full["title"]))
    # The purposes of the banner's collection point, and the cookie purposes that need no consent.
    purposes = [
        p
        for p in full["purposes"]
        if "banner" in p["collection_points"]
        or (p["kind"] == "cookies" and (p["legal_basis"] != "consent" or p.get("cookie_category") == "necessary"))
    ]
    view["purposes"] = []
    for p in purposes:
        v = pick(p, ["id", "code", "collection_points", "kind", "legal_basis", "changed_in", "cookie_category"])
        if "texts" in p:
            v["texts"] = {k: one(p["texts"][k]) for k in ("title", "description")}
        view["purposes"].append(v)
    view["cookie_categories"] = [
        {
            "id": c["id"],
            "name": one(c["name"]),
            "description": one(c["description"]),
            "cookies": [dict(pick(k, ["name", "pattern", "provider", "lifetime"]), purpose=one(k["purpose"])) for k in c["cookies"]],
        }
        for c in full["cookie_categories"]
        if any(p.get("cookie_category") == c["id"] for p in purposes)
    ]
    if "banner" in full:
        view["banner"] = {k: one(t) for k, t in full["banner"].items()}
    return view


def hmac_keys(usage):
    return {k["kid"]: b64d(k["k"]) for k in load("hmac-keys.json")["keys"] if k["use"] == usage}


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


# --- Sealed personal fields: XChaCha20-Poly1305 (SPEC.md section 2.5) ------------------------------------
# `cryptography` has ChaCha20-Poly1305 (RFC 8439) but not the extended-nonce variant: HChaCha20 is written
# here from draft-irtf-cfrg-xchacha-03 section 2.2, and checked against the draft's own test vectors.

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


# --- The consent log (SPEC.md section 6) -----------------------------------------------------------------

LOG = "log"


def b64std(s):
    """Standard base64 with padding, canonical only."""
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4:
        raise ValueError("not standard base64 with padding")
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode() != s:
        raise ValueError("non-canonical base64")
    return raw


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """RFC 6962 section 2.1 over a list of leaf hashes, by its recursive definitions."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.memo = {}

    def mth(self, lo, hi):
        if (lo, hi) not in self.memo:
            if hi - lo == 0:
                h = hashlib.sha256(b"").digest()
            elif hi - lo == 1:
                h = self.leaves[lo]
            else:
                k = split(hi - lo)
                h = node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
            self.memo[(lo, hi)] = h
        return self.memo[(lo, hi)]

    def path(self, m, lo, hi):
        if hi - lo <= 1:
            return []
        k = split(hi - lo)
        if m < lo + k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, whole):
        if m == hi:
            return [] if whole else [self.mth(lo, hi)]
        k = split(hi - lo)
        if m <= lo + k:
            return self.subproof(m, lo, lo + k, whole) + [self.mth(lo + k, hi)]
        return self.subproof(m, lo + k, hi, False) + [self.mth(lo, lo + k)]


def run_inclusion(proof, lo, hi, n, leaf):
    """The root of leaves [lo, hi) that the proof implies (Go's tlog runRecordProof), or None."""
    if hi - lo == 1:
        return None if proof else leaf
    if not proof:
        return None
    k = split(hi - lo)
    if n < lo + k:
        sub = run_inclusion(proof[:-1], lo, lo + k, n, leaf)
        return None if sub is None else node_hash(sub, proof[-1])
    sub = run_inclusion(proof[:-1], lo + k, hi, n, leaf)
    return None if sub is None else node_hash(proof[-1], sub)


def verify_inclusion(index, size, leaf, proof, root):
    return 0 <= index < size and run_inclusion(proof, 0, size, index, leaf) == root


def run_consistency(proof, lo, hi, m, old):
    """The old and new roots of leaves [lo, hi) that the proof implies (Go's tlog runTreeProof), or None."""
    if m == hi:
        if lo == 0:
            return None if proof else (old, old)
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = split(hi - lo)
    if m <= lo + k:
        sub = run_consistency(proof[:-1], lo, lo + k, m, old)
        return None if sub is None else (sub[0], node_hash(sub[1], proof[-1]))
    sub = run_consistency(proof[:-1], lo + k, hi, m, old)
    return None if sub is None else (node_hash(proof[-1], sub[0]), node_hash(proof[-1], sub[1]))


def verify_consistency(m, n, proof, old_root, new_root):
    if m < 1 or m > n:
        return False
    if m == n:
        return not proof and old_root == new_root
    return run_consistency(proof, 0, n, m, old_root) == (old_root, new_root)


def log_entries():
    tree = load(f"{LOG}/tree.json")
    return [b64std(e) for e in tree["entries"]], tree


def check_log_tree():
    entries, tree = log_entries()
    leaves = [leaf_hash(e) for e in entries]
    assert [b64std(h) for h in tree["leaf_hashes"]] == leaves, "log leaf hashes"
    t = Tree(leaves)
    roots = [b64std(r) for r in tree["roots"]]
    assert len(roots) == len(leaves) + 1
    for n, root in enumerate(roots):
        assert t.mth(0, n) == root, f"log root of size {n}"
    return t, roots


def check_log_proofs(t):
    proofs = load(f"{LOG}/proofs.json")
    for v in proofs["inclusion"]:
        proof = [b64std(h) for h in v["proof"]]
        ok = verify_inclusion(v["index"], v["size"], b64std(v["leaf_hash"]), proof, b64std(v["root"]))
        assert ok == v["valid"], f"log inclusion vector {v['name']}: expected valid={v['valid']}"
        if v["valid"]:
            assert proof == t.path(v["index"], 0, v["size"]), f"log inclusion vector {v['name']}: not PATH"
            assert b64std(v["root"]) == t.mth(0, v["size"]) and b64std(v["leaf_hash"]) == t.leaves[v["index"]]
    for v in proofs["consistency"]:
        proof = [b64std(h) for h in v["proof"]]
        m, n = v["old_size"], v["new_size"]
        ok = verify_consistency(m, n, proof, b64std(v["old_root"]), b64std(v["new_root"]))
        assert ok == v["valid"], f"log consistency vector {v['name']}: expected valid={v['valid']}"
        if v["valid"]:
            assert proof == t.subproof(m, 0, n, True), f"log consistency vector {v['name']}: not SUBPROOF"
    return len(proofs["inclusion"]) + len(proofs["consistency"])


def tile_index(n):
    """C2SP tlog-tiles: the index in 3-digit groups, all but the last prefixed with x."""
    groups = [f"{n % 1000:03d}"]
    while n >= 1000:
        n //= 1000
        groups.insert(0, f"x{n % 1000:03d}")
    return "/".join(groups)


def tiles_of(size, level_name, count_at):
    """C2SP's tiles of a tree of `size`: per level, the full tiles and the partial one."""
    paths = []
    for level, count in count_at(size):
        for n in range(count // 256):
            paths.append(f"tile/{level_name(level)}/{tile_index(n)}")
        if count % 256:
            paths.append(f"tile/{level_name(level)}/{tile_index(count // 256)}.p/{count % 256}")
    return paths


def check_log_tiles(t, entries):
    index = load(f"{LOG}/tiles.json")
    files = 0
    for checkpoint in index:
        size = checkpoint["tree_size"]
        levels = lambda s: [(level, s >> (8 * level)) for level in range(8) if s >> (8 * level)]
        assert checkpoint["tiles"] == tiles_of(size, str, levels), f"log tiles of size {size}"
        assert checkpoint["bundles"] == tiles_of(size, lambda _: "entries", lambda s: [(0, s)]), f"bundles of {size}"
        for path in checkpoint["tiles"]:
            m = re.fullmatch(r"tile/(\d+)/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?", path)
            level, n, width = int(m[1]), int(m[2].replace("x", "").replace("/", "")), int(m[3] or 256)
            span = 256**level
            want = b"".join(t.mth((n * 256 + i) * span, (n * 256 + i + 1) * span) for i in range(width))
            assert (vectors / LOG / path).read_bytes() == want, f"log tile {path}"
            files += 1
        for path in checkpoint["bundles"]:
            m = re.fullmatch(r"tile/entries/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?", path)
            n, width = int(m[1].replace("x", "").replace("/", "")), int(m[2] or 256)
            data, got = (vectors / LOG / path).read_bytes(), []
            while data:
                (length,) = struct.unpack(">H", data[:2])
                assert len(data) >= 2 + length, f"log bundle {path} truncated"
                got.append(data[2 : 2 + length])
                data = data[2 + length :]
            assert got == entries[n * 256 : n * 256 + width], f"log bundle {path}"
            files += 1
    return files


def key_name_ok(name):
    return 0 < len(name.encode()) <= 255 and not any(c.isspace() or c == "+" or c < " " for c in name)


def parse_vkey(vkey):
    """C2SP signed-note verifier key: (name, key id, type, public key)."""
    name, key_id, material = vkey.split("+", 2)
    raw = b64std(material)
    assert key_name_ok(name) and re.fullmatch(r"[0-9a-f]{8}", key_id) and raw[0] in (1, 4) and len(raw) == 33
    computed = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert computed.hex() == key_id, f"vkey {vkey}: key id"
    return name, key_id, raw[0], raw[1:]


def open_note(note, keys):
    """C2SP signed-note with our limits (SPEC.md 6.3): the text and the (name, key id, timestamp) of the known
    keys' signatures, or None if the note is malformed, a known key's signature fails or is repeated, or no
    known key signed."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(note.encode()) > 64 * 1024 or any(c < " " and c != "\n" for c in note):
        return None
    split_at = note.rfind("\n\n")
    if split_at < 0:
        return None
    text, sigs = note[: split_at + 1], note[split_at + 2 :]
    if not sigs.endswith("\n"):
        return None
    lines = sigs[:-1].split("\n")
    if len(lines) > 100:
        return None
    verified = []
    for line in lines:
        if not line.startswith("\u2014 ") or " " not in line[2:]:
            return None
        name, sig = line[2:].split(" ", 1)
        try:
            raw = b64std(sig)
        except ValueError:
            return None
        if not key_name_ok(name) or len(raw) < 5:
            return None
        key = keys.get((name, raw[:4].hex()))
        if key is None:
            continue
        if any(v[:2] == (name, raw[:4].hex()) for v in verified):
            return None
        kind, public = key
        message, signature, timestamp = text.encode(), raw[4:], None
        if kind == 4:
            if len(signature) != 72:
                return None
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp >= 2**63:
                return None
            message = f"cosignature/v1\ntime {timestamp}\n".encode() + message
            signature = signature[8:]
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        except InvalidSignature:
            return None
        verified.append((name, raw[:4].hex(), timestamp))
    return (text, verified) if verified else None


def parse_checkpoint(text):
    """C2SP tlog-checkpoint note text: (origin, size, root, extensions) or None."""
    if not text.endswith("\n"):
        return None
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        return None
    origin, size, root = lines[:3]
    if len(origin.encode()) > 255 or not re.fullmatch(r"0|[1-9][0-9]*", size) or int(size) >= 2**64:
        return None
    try:
        root = b64std(root)
    except ValueError:
        return None
    return (origin, int(size), root, lines[3:]) if len(root) == 32 else None


def log_keys():
    notes = load(f"{LOG}/notes.json")
    log_name, log_id, log_type, log_public = parse_vkey(notes["log_key"])
    assert log_type == 1
    keys = {(log_name, log_id): (1, log_public)}
    for w in notes["witness_key"]:
        name, key_id, kind, public = parse_vkey(w)
        assert kind == 4
        keys[(name, key_id)] = (kind, public)
    return notes, keys, (log_name, log_id)


def verify_checkpoint(note, keys, log_key):
    """The checkpoint and its verified signatures, if the log's key (named after the origin) signed it."""
    opened = open_note(note, keys)
    if opened is None:
        return None
    text, verified = opened
    checkpoint = parse_checkpoint(text)
    if checkpoint is None or checkpoint[0] != log_key[0]:
        return None
    if not any(v[:2] == log_key and v[2] is None for v in verified):
        return None
    return checkpoint, verified


def check_log_notes(roots):
    notes, keys, log_key = log_keys()
    for v in notes["checkpoints"]:
        result = verify_checkpoint(v["note"], keys, log_key)
        assert (result is not None) == v["valid"], f"log checkpoint vector {v['name']}: expected valid={v['valid']}"
        if result:
            (origin, size, root, extensions), verified = result
            c = v["checkpoint"]
            assert (origin, size, root, extensions) == (c["origin"], c["size"], b64std(c["root"]), c["extensions"])
            assert root == roots[size], f"log checkpoint vector {v['name']}: not the log's root"
            cosigned = [{"name": n, "timestamp": ts} for n, _, ts in verified if ts is not None]
            assert cosigned == v["cosignatures"], f"log checkpoint vector {v['name']}: cosignatures"
    served = verify_checkpoint((vectors / LOG / "checkpoint").read_text(encoding="utf-8"), keys, log_key)
    assert served is not None and served[0][1] == len(roots) - 1, "log checkpoint file"
    return len(notes["checkpoints"]) + 1


def verify_tlog_proof(text, entry, keys, log_key):
    """C2SP tlog-proof@v1: the index, if the proof verifies for the entry."""
    if len(text.encode()) > 96 * 1024:
        return None
    lines = text.split("\n")
    if len(lines) < 3 or lines[0] != "c2sp.org/tlog-proof@v1":
        return None
    at = 1
    if lines[at].startswith("extra "):
        try:
            if not b64std(lines[at][6:]):
                return None
        except ValueError:
            return None
        at += 1
    m = re.fullmatch(r"index (0|[1-9][0-9]*)", lines[at])
    if not m:
        return None
    index, at, proof = int(m[1]), at + 1, []
    while at < len(lines) and lines[at] != "":
        try:
            h = b64std(lines[at])
        except ValueError:
            return None
        if len(h) != 32 or len(proof) == 64:
            return None
        proof.append(h)
        at += 1
    if at >= len(lines):
        return None
    result = verify_checkpoint("\n".join(lines[at + 1 :]), keys, log_key)
    if result is None:
        return None
    (_, size, root, _), _ = result
    return index if verify_inclusion(index, size, leaf_hash(entry), proof, root) else None


def check_log_tlog_proofs():
    _, keys, log_key = log_keys()
    cases = load(f"{LOG}/tlog-proofs.json")
    for v in cases:
        index = verify_tlog_proof(v["proof"], b64std(v["entry"]), keys, log_key)
        assert (index is not None) == v["valid"], f"tlog-proof vector {v['name']}: expected valid={v['valid']}"
        if index is not None:
            assert index == v["index"]
    entries, _ = log_entries()
    example = (vectors / LOG / "entry-300.tlog-proof").read_text(encoding="utf-8")
    assert verify_tlog_proof(example, entries[300], keys, log_key) == 300, "entry-300.tlog-proof"
    return len(cases) + 1


log_tree, log_roots = check_log_tree()
parts = [
    f"{check_policies()} policy",
    f"{check_tokens()} token",
    f"{len(log_roots)} log root",
    f"{check_log_proofs(log_tree)} log proof",
    f"{check_log_tiles(log_tree, log_entries()[0])} log tile",
]
try:
    import jwcrypto  # noqa: F401
except ImportError:
    print("jwcrypto is not installed: receipt and log signature vectors not checked independently", file=sys.stderr)
    if "--require-jwcrypto" in sys.argv:
        sys.exit(1)
else:
    parts.append(f"{check_receipts()} receipt")
    parts.append(f"{check_rights_records()} rights-record")
    parts.append(f"{check_xchacha_self_test()} XChaCha20-Poly1305 self-test")
    parts.append(f"{check_sealed_receipts()} sealed receipt")
    parts.append(f"{check_log_notes(log_roots)} log checkpoint")
    parts.append(f"{check_log_tlog_proofs()} tlog-proof")
print("independent check passed: " + ", ".join(parts) + " vectors")
