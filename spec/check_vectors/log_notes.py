"""The consent log's signed notes (SPEC.md sections 6.3, 6.4 and 6.6, vectors in log/): notes,
checkpoints, cosignatures and tlog-proofs parsed as C2SP signed-note, tlog-checkpoint, tlog-cosignature and
tlog-proof specify, their Ed25519 signatures checked with `cryptography` (installed with jwcrypto, imported
only when a check runs)."""
import hashlib
import re
import struct

from .common import load, vector_file
from .log_tree import LOG, b64std, leaf_hash, log_entries, verify_inclusion


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
    served = verify_checkpoint(vector_file(LOG, "checkpoint").read_text(encoding="utf-8"), keys, log_key)
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
    example = vector_file(LOG, "entry-300.tlog-proof").read_text(encoding="utf-8")
    assert verify_tlog_proof(example, entries[300], keys, log_key) == 300, "entry-300.tlog-proof"
    return len(cases) + 1
