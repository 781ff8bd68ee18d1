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
The checks live in the package check_vectors/ beside this script, one module per kind of vector.
Usage: check-vectors.py [VECTORS_DIR]   (jwcrypto needed for the receipt and log signature parts: pip install jwcrypto)
"""
import sys

# Like the single script this was, leave no __pycache__ behind in spec/check_vectors/.
sys.dont_write_bytecode = True

from check_vectors.common import set_vectors
from check_vectors.log_notes import check_log_notes, check_log_tlog_proofs
from check_vectors.log_tree import check_log_proofs, check_log_tiles, check_log_tree, log_entries
from check_vectors.policies import check_policies
from check_vectors.receipts import check_receipts, check_rights_records
from check_vectors.sealed import check_sealed_receipts, check_xchacha_self_test
from check_vectors.tokens import check_tokens


def main():
    set_vectors(sys.argv[1] if len(sys.argv) > 1 else "spec/vectors")
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


if __name__ == "__main__":
    main()
