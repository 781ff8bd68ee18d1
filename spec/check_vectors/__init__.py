"""The independent checks of spec/vectors that spec/check-vectors.py runs, one module per kind of vector.

* common: the vectors directory (set by the entry point with `common.set_vectors`), JSON and base64url.
* policies: canonical policies and their banner views (spec/POLICY.md).
* receipts: receipts and rights records (SPEC.md sections 2 and 6.8), with jwcrypto.
* sealed: HChaCha20/XChaCha20-Poly1305 and sealed receipts (SPEC.md section 2.5), with `cryptography`.
* tokens: consent tokens (SPEC.md section 3).
* log_tree: the log's tree, proofs, tiles and entry bundles (SPEC.md section 6, RFC 6962, C2SP tlog-tiles).
* log_notes: the log's notes, checkpoints, cosignatures and tlog-proofs (SPEC.md section 6, C2SP).

Each `check_*` function asserts that every vector marked valid passes and every one marked invalid fails,
and returns how many vectors it checked. jwcrypto and `cryptography` are imported only inside the functions
that use them, so the rest runs without them.
"""
