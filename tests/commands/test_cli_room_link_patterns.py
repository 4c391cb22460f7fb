"""A claims file's room_link_pattern cannot hang `confaudit check`: refused at load (exit 3, one line,
file:line:col) or matched by RE2 in bounded time over 100 KB URLs from a browser-style HAR."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from support.har_build import har_entry, write_har

CONFAUDIT = Path(sys.executable).with_name("confaudit")
_RNG = random.Random(7)
LINK_IDS = ["".join(_RNG.choice(string.ascii_letters + string.digits) for _ in range(10)) for _ in range(6)]
HOSTILE_TEXTS = ["a" * 99_000 + "!", "word " * 19_800 + "!", "x" * 99_000 + "a" * 19, "ab" * 49_500, "a" * 99_000]
"""Path tails on which Python's re backtracks for ever with the patterns below (each URL about 100 KB)."""


def _har(tmp_path: Path) -> Path:
    urls = [f"https://rooms.example.test/r/{tail}" for tail in HOSTILE_TEXTS]
    urls += [f"https://rooms.example.test/r/{ident}?lang=en" for ident in LINK_IDS]
    entries = [har_entry(url, "{}", "application/json", second=i + 1) for i, url in enumerate(urls)]
    return write_har(tmp_path / "call.har", entries)


def _claims(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text("vendor: Example Rooms\nfirst_party: [example.test]\n"
                    f"room_link_pattern: {pattern}\n"
                    "claims:\n  - id: links\n    statement: \"Room links are hard to guess.\"\n"
                    "    source: {title: t, url: \"https://example.test/p\", date: \"2024-01-01\"}\n"
                    "    check: room_links\n    min_entropy_bits: 40\n    severity: high\n", encoding="utf-8")
    return path


def _check(tmp_path: Path, claims: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFAUDIT), "check", str(_har(tmp_path)), "--claims", str(claims), "--json",
                           str(tmp_path / "f.json")], cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("pattern", [r"'(a+)+$'", r"'(a|aa)+$'", r"'(.*a){20}'", r"'(\w+\s?)+$'", r"'((a|b|ab)*)*c'",
                                     r"'(?P<id>(a|a?)+)+b'", r"'(.*c|a)'"])
def test_backtracking_patterns_are_judged_quickly(tmp_path: Path, pattern: str) -> None:
    run = _check(tmp_path, _claims(tmp_path, pattern))  # Python's re would not finish before the timeout
    assert run.returncode in (0, 1), run.stderr
    assert run.stderr == "" and "result:" in run.stdout
    finding = json.loads((tmp_path / "f.json").read_text())["findings"][0]
    assert finding["verdict"] in ("supported", "contradicted", "not_observable"), finding


@pytest.mark.parametrize("pattern, words", [
    (r"'rooms\.example\.test/r/[A-Za-z0-9]{10}'", "needs a group for the room id: (?P<id>...) or (...)"),
    (r"'rooms\.example\.test/r/(?=[A-Z])(\w+)'", "not accepted by RE2, the linear-time engine confaudit matches with: "
                                                  "invalid perl operator: (?="),
    (r"'(\w)\1+'", "invalid escape sequence: \\1"),
    (r"'([ab]{0,999}[ab]{0,999}[ab]{0,999}c)'", "too large to match in bounded time"),
    (r"'(x*)'", "matches the empty string"),
])
def test_unusable_patterns_are_refused_at_load(tmp_path: Path, pattern: str, words: str) -> None:
    claims = _claims(tmp_path, pattern)
    run = _check(tmp_path, claims)
    assert run.returncode == 3, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith(f"confaudit: error: {claims}:3:20: room_link_pattern ") and words in run.stderr
    assert not (tmp_path / "f.json").exists()


def test_a_valid_pattern_still_finds_the_links(tmp_path: Path) -> None:
    run = _check(tmp_path, _claims(tmp_path, r"'rooms\.example\.test/r/(?P<id>[A-Za-z0-9]{10})(?:[?#]|$)'"))
    assert run.returncode == 0, run.stdout + run.stderr
    finding = json.loads((tmp_path / "f.json").read_text())["findings"][0]
    assert finding["verdict"] == "supported" and "6 distinct ids" in json.dumps(finding["evidence"])
