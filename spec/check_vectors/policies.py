"""Policies (spec/POLICY.md, SPEC.md section 1): the SHA-256 of each canonical file equals the published
hash, re-serialising the canonical JSON with sorted keys, no whitespace and raw UTF-8 gives the same bytes,
and each published banner view is the one POLICY.md ("Banner view") derives from the canonical policy."""
import hashlib
import json

from .common import load, vector_file


def check_policies():
    index = load("policies.json")
    for entry in index:
        raw = vector_file(entry["canonical"]).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        assert digest == entry["sha256"], f"{entry['name']}: sha256 {digest} != {entry['sha256']}"
        again = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert again == raw, f"{entry['name']}: not the sorted-key re-serialisation"
        full = json.loads(raw)
        assert sorted(entry["banner_views"]) == sorted(full["languages"]), entry["name"]
        for lang, file in entry["banner_views"].items():
            view = json.dumps(banner_view(full, lang, digest), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert view.encode() == vector_file(file).read_bytes(), f"{file}: not the banner view of {entry['canonical']}"
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
