"""confaudit.jsonstream: the canonical layout written in batches, byte for byte, and the nesting guard."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
import random
from pathlib import Path

import pytest

from confaudit import jsonstream
from confaudit.jsonio import dumps_canonical
from confaudit.jsonstream import write_json
from confaudit.jsonstream import NestingGuard, canonical_chunks

from support.environment import REPO

# Characters that matter to a byte scanner: escapes, quotes, brackets and commas inside strings, multi-byte text.
_PIECES = ["\\", '"', "[", "]", "{", "}", ",", ":", " ", "a", "é", "\n", '\\"', "€", "\x01", "𝄞", "\\\\", "\t"]


def _value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth > 5 or roll < 0.3:
        return rng.choice(["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 9))), rng.randint(-10**20, 10**20),
                           rng.random() * 1e300, None, True, False, 0.1, -0.0, 1e-300, [], {}, [[]], {"": {}}])
    if roll < 0.6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {"".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 6))): _value(rng, depth + 1)
            for _ in range(rng.randint(0, 5))}


@pytest.mark.parametrize("batch", [1, 64, 1 << 20])
def test_canonical_chunks_are_dumps_canonical_byte_for_byte(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    monkeypatch.setattr(jsonstream, "BATCH_BYTES", batch)
    rng = random.Random(batch)
    for _ in range(1500):
        value = _value(rng)
        assert b"".join(canonical_chunks(value)) == (dumps_canonical(value) + "\n").encode("utf-8"), value


def test_a_real_bundle_is_written_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample session's evidence (capture, flows, observations, telemetry) through write_json."""
    from confaudit.evidence.build import build_evidence

    bundle = build_evidence([REPO / "samples" / "sessions" / "example-rooms"], redactor=Redactor.default())
    monkeypatch.setattr(jsonstream, "BATCH_BYTES", 4096)  # many batches per section
    write_json(tmp_path / "evidence.json", bundle)
    assert (tmp_path / "evidence.json").read_bytes() == (dumps_canonical(bundle) + "\n").encode("utf-8")
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unwritable_value_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(ValueError):
        write_json(target, {"a": [1] * 100_000 + [float("nan")]})
    assert target.read_text() == "old" and not list(tmp_path.glob(".*.tmp"))


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
def test_nesting_guard_counts_brackets_outside_strings_only(size: int) -> None:
    text = json.dumps({"s": "[[[[{{{{" * 50 + '\\"[[[' + "\\", "t": ["]]]]\\\\", "[\\\\\"[["], "n": [[[[1]]]]}).encode()
    guard = NestingGuard(5)
    parts = _chunks(text, size)
    passed = b"".join(guard.check(c, final=i == len(parts) - 1) for i, c in enumerate(parts))
    assert passed == text and guard.depth == 0 and not guard.in_string
    with pytest.raises(ValueError, match="deeper than 4 levels"):
        strict = NestingGuard(4)
        for i, c in enumerate(parts):
            strict.check(c, final=i == len(parts) - 1)


def test_nesting_guard_holds_a_trailing_escape_back() -> None:
    guard = NestingGuard(3)
    assert guard.check(b'["ab\\') == b'["ab' and guard.check(b'"[[[[["]', final=True) == b'\\"[[[[["]'
    assert guard.depth == 0


@pytest.mark.parametrize(("line", "problem"), [
    (b'{"ts": NaN}', "non-finite number NaN"),
    (b'{"ts": 1e400}', r"number out of range at \$\.ts"),
    (b'{"a": [1, {"ts": -' + b"9" * 400 + b"}]}", r"number out of range at \$\.a\[1\]\.ts"),
    (b'{"ts": ' + b"9" * 5000 + b"}", r"number out of range at \$\.ts"),
    (b'{"a": "\\ud800x"}', "lone UTF-16 surrogate"),
    (b'{"a": ' + b"[" * 201 + b"]" * 201 + b"}", "nesting deeper than 200 levels"),
    (b'{"a": "caf\xe9"}', "can't decode byte 0xe9"),
])
def test_parse_line_refuses_what_loads_strict_refuses(line: bytes, problem: str) -> None:
    from confaudit.errors import InputError
    from confaudit.jsonio import loads_strict
    from confaudit.jsonstream import parse_line

    with pytest.raises(ValueError, match=problem):
        parse_line(line)
    if b"\xe9" not in line and b"1e400" not in line and b"999" not in line:  # what loads_strict checks today
        with pytest.raises(InputError):
            loads_strict(line.decode())


def test_parse_line_reads_what_is_valid() -> None:
    from confaudit.jsonstream import parse_line

    line = ('{"a": "\\ud83d\\ude00 [[[[{{{{", "n": [' + ", ".join(["1e308", "-2.5E-300", "1" * 300, "0"]) + "], "
            '"deep": ' + "[" * 199 + "]" * 199 + "}").encode()  # the outer object is the 200th level
    assert parse_line(line) == json.loads(line)
