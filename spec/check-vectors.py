#!/usr/bin/env python3
"""Checks spec/vectors with an independent implementation (Python's standard library only).

For each policy vector: the SHA-256 of the canonical file equals the published hash, and re-serialising
the canonical JSON with sorted keys, no whitespace and raw UTF-8 gives the same bytes (so the canonical
form is what any JSON library produces with those settings).
"""
import hashlib
import json
import pathlib
import sys

vectors = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "spec/vectors")
index = json.loads((vectors / "policies.json").read_text(encoding="utf-8"))
for entry in index:
    raw = (vectors / entry["canonical"]).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry["sha256"]:
        sys.exit(f"{entry['name']}: sha256 {digest} != published {entry['sha256']}")
    again = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if again != raw:
        sys.exit(f"{entry['name']}: canonical form differs from a plain sorted-key re-serialisation")
print(f"{len(index)} policy vectors check out")
