"""The consent log's tree (SPEC.md sections 6.1, 6.2 and 6.5, vectors in log/): leaf hashes and roots by
RFC 6962's recursive definition; every valid proof equals RFC 6962's PATH or SUBPROOF of the entries, and a
verifier written from Go's tlog (recursive, where the library walks bits as RFC 9162 does) accepts exactly
the valid ones; the tiles and entry bundles are what C2SP tlog-tiles makes of the entries."""
import base64
import hashlib
import re
import struct

from .common import load, vector_file


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
            assert vector_file(LOG, path).read_bytes() == want, f"log tile {path}"
            files += 1
        for path in checkpoint["bundles"]:
            m = re.fullmatch(r"tile/entries/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?", path)
            n, width = int(m[1].replace("x", "").replace("/", "")), int(m[2] or 256)
            data, got = vector_file(LOG, path).read_bytes(), []
            while data:
                (length,) = struct.unpack(">H", data[:2])
                assert len(data) >= 2 + length, f"log bundle {path} truncated"
                got.append(data[2 : 2 + length])
                data = data[2 + length :]
            assert got == entries[n * 256 : n * 256 + width], f"log bundle {path}"
            files += 1
    return files
