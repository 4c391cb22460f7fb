"""Claims files: the shipped samples load; bad files fail with file:line:column and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from confaudit.errors import ClaimsError
from confaudit.rules.claims import load_claims

from support.environment import REPO

SAMPLES = sorted((REPO / "samples" / "claims").glob("*.yaml"))
GOOD = """vendor: Example
first_party: [example.com]
claims:
  - id: c1
    statement: "We encrypt."
    source: {title: t, url: "https://example.com/p", date: "2024-01-01"}
    check: transport_encryption
    severity: high
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> ClaimsError:
    with pytest.raises(ClaimsError) as info:
        load_claims(_write(tmp_path, text))
    return info.value


def test_all_samples_load_with_sources_and_document_only_claims() -> None:
    vendors = set()
    for path in SAMPLES:
        claims = load_claims(path)
        vendors.add(claims.vendor)
        assert claims.first_party, path
        for claim in claims.claims:
            assert claim.source["url"].startswith("https://") and claim.source["date"], claim.id
        assert any(c.document_only for c in claims.claims), f"{path.name} has no document_only claim"
    assert {"Messenger Rooms", "Zoom", "Skype", "WhatsApp", "Google Meet", "Microsoft Teams", "Jitsi Meet"} <= vendors


def test_messenger_rooms_covers_the_founding_article() -> None:
    claims = load_claims(next(p for p in SAMPLES if p.name == "messenger-rooms.yaml"))
    checks = {c.check for c in claims.claims}
    assert {"end_to_end_encryption", "no_advertising", "room_links", "data_collection", "third_party_sharing",
            "no_audio_while_muted", "document_only"} <= checks
    by_id = {c.id: c for c in claims.claims}
    assert by_id["rooms-not-e2ee"].params["expect"] is False
    assert by_id["rooms-does-not-listen"].document_only and by_id["rooms-lock"].document_only
    assert by_id["rooms-guest-data"].params["account"] == "guest"


def test_claim_positions_and_defaults(tmp_path: Path) -> None:
    claims = load_claims(_write(tmp_path, GOOD))
    claim = claims.claims[0]
    assert (claim.line, claim.column) == (4, 5)
    assert claim.params == {"min_tls": "1.2"} and claim.category == "transport_encryption"
    assert claims.first_party == ("example.com",)


@pytest.mark.parametrize("mutation, where, words", [
    (("check: transport_encryption", "check: transport_encryptio"), (7, 12), "unknown check kind 'transport_encryptio'"),
    (("severity: high", "severity: high\n    min_tsl: '1.2'"), (9, 5), "unknown parameter 'min_tsl'"),
    (("severity: high", "severity: severe"), (8, 15), "severity 'severe'"),
    (("severity: high", "severity: high\n    min_tls: '1.5'"), (9, 14), "'1.5' is not one of"),
    (("    statement: \"We encrypt.\"\n", ""), (4, 5), "missing required key 'statement'"),
    (("url: \"https://example.com/p\"", "url: \"javascript:alert(1)\""), (6, 29), "http(s) URL"),
    (("vendor: Example", "vendor: Example\nvendor: Other"), (2, 1), "duplicate key 'vendor'"),
    (("first_party", "first_partyy"), (2, 1), "unknown key 'first_partyy'"),
    (("claims:", "claims: [\n"), None, "invalid YAML"),
])
def test_bad_claims_point_at_the_problem(tmp_path: Path, mutation, where, words) -> None:
    old, new = mutation
    err = _error(tmp_path, GOOD.replace(old, new, 1))
    assert words in str(err), str(err)
    if where is not None:
        assert (err.line, err.column) == where, str(err)
        assert str(err).startswith(f"{tmp_path / 'claims.yaml'}:{where[0]}:{where[1]}: ")
    assert err.exit_code == 3 and "\n" not in str(err)


def test_check_specific_parameter_validation(tmp_path: Path) -> None:
    base = GOOD.replace("check: transport_encryption", "check: {kind}")
    assert "needs parameter 'allowed'" in str(_error(tmp_path, base.replace("{kind}", "media_path")))
    err = _error(tmp_path, base.replace("{kind}", "media_path\n    allowed: [p2p, moon]"))
    assert "'moon' is not one of p2p, relay, server" in str(err)
    err = _error(tmp_path, base.replace("{kind}", "end_to_end_encryption\n    expect: maybe"))
    assert "must be true or false" in str(err)
    err = _error(tmp_path, base.replace("{kind}", "data_collection\n    categories: [device, shoe_size]"))
    assert "'shoe_size' is not one of" in str(err)
    err = _error(tmp_path, base.replace("{kind}", "room_links"))
    assert "min_entropy_bits and/or fresh_per_room" in str(err)
    err = _error(tmp_path, base.replace("{kind}", "room_links\n    min_entropy_bits: nan"))
    assert "finite" in str(err)
    err = _error(tmp_path, base.replace("{kind}", "document_only\n    category: astrology"))
    assert "category 'astrology' is not in the rubric" in str(err)


def test_duplicate_claim_ids_rejected(tmp_path: Path) -> None:
    text = GOOD + GOOD.split("claims:\n", 1)[1]
    err = _error(tmp_path, text)
    assert "duplicate claim id 'c1'" in str(err) and err.line == 9


@pytest.mark.timeout(10)
def test_hostile_yaml_is_refused_quickly(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20))
    assert "aliases" in str(_error(tmp_path, bomb))
    assert "nested deeper than 64" in str(_error(tmp_path, "[" * 100_000))
    assert "nested deeper than 64" in str(_error(tmp_path, "a: " + "{b: " * 5000))
    assert "!!python" not in str(_error(tmp_path, "vendor: !!python/object/apply:os.system ['true']\nclaims: []"))
    (tmp_path / "big.yaml").write_bytes(b"#" * (3 * 1024 * 1024))
    with pytest.raises(ClaimsError, match="limit"):
        load_claims(tmp_path / "big.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"vendor: \xff\xfe\n")
    with pytest.raises(ClaimsError, match="not UTF-8"):
        load_claims(tmp_path / "bin.yaml")
    for text in ("", "just a string", "- a list", "vendor: x\nclaims: []", "vendor: x\nclaims:\n  - plain"):
        _error(tmp_path, text)
    with pytest.raises(ClaimsError, match="no such file|No such file"):
        load_claims(tmp_path / "missing.yaml")


@pytest.mark.parametrize("pattern, words", [
    (r"'rooms\.example\.com/r/[A-Za-z0-9]+'", "needs a group for the room id: (?P<id>...) or (...)"),
    (r"'rooms\.example\.com/r/(?=[A-Z])([A-Za-z0-9]+)'", "not accepted by RE2, the linear-time engine confaudit "
                                                          "matches with: invalid perl operator: (?="),
    (r"'(a)\1'", "invalid escape sequence: \\1"),
    (r"'(.{999}.{999}.{999}x)'", "too large to match in bounded time"),
    (r"'([a-z]*)|/r/'", "matches the empty string"),
    ('"(a)\\ud800"', "lone surrogate"),
])
def test_room_link_pattern_refused_at_its_line_and_column(tmp_path: Path, pattern: str, words: str) -> None:
    err = _error(tmp_path, GOOD.replace("claims:", f"room_link_pattern: {pattern}\nclaims:", 1))
    assert (err.line, err.column) == (3, 20), str(err)
    assert str(err).startswith(f"{tmp_path / 'claims.yaml'}:3:20: room_link_pattern "), str(err)
    assert words in str(err) and "\n" not in str(err) and err.exit_code == 3


def test_room_link_patterns_re2_reads_like_python_re_load(tmp_path: Path) -> None:
    """RE2 refuses only what needs backtracking; nested quantifiers load, since RE2 runs them in linear time."""
    for pattern in (r"zoom\.us/j/(\d+)", r"(?P<id>[A-Za-z0-9_-]{8,})", r"(?i)meet\.example/([a-z]{3}-[a-z]{4})",
                    r"rooms/(\p{L}+)", r"(a+)+$", r"(.*a){20}"):
        text = GOOD.replace("claims:", f"room_link_pattern: '{pattern}'\nclaims:", 1)
        assert load_claims(_write(tmp_path, text)).room_link_pattern == pattern
