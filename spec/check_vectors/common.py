"""Reading the vectors: the directory the entry point names, its JSON files, base64url without padding as
SPEC.md writes it, and the HMAC keys (hmac-keys.json) that receipts and tokens share."""
import base64
import json
import pathlib
import re

B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_vectors = None


def set_vectors(path):
    """Names the vectors directory; the entry point calls this before any check."""
    global _vectors
    _vectors = pathlib.Path(path)


def vector_file(*parts):
    """The path of a file in the vectors directory."""
    if _vectors is None:
        raise RuntimeError("the vectors directory is not set: call set_vectors first")
    return _vectors.joinpath(*parts)


def load(name):
    return json.loads(vector_file(name).read_text(encoding="utf-8"))


def b64d(s):
    if not B64URL.match(s) or len(s) % 4 == 1:
        raise ValueError("not base64url without padding")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != s:
        raise ValueError("non-canonical base64url")
    return raw


def hmac_keys(usage):
    return {k["kid"]: b64d(k["k"]) for k in load("hmac-keys.json")["keys"] if k["use"] == usage}
