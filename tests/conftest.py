"""Shared fixtures: paths to the real public captures, and an isolated redaction key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.environment import SAMPLE_SESSION, SHARED_CAPTURES


@pytest.fixture
def sample_session_copy(tmp_path: Path) -> Path:
    """A private copy of the real sample session (samples/sessions/example-rooms), free to damage."""
    return Path(shutil.copytree(SAMPLE_SESSION, tmp_path / "example-rooms"))


@pytest.fixture(scope="session")
def shared_captures() -> Path:
    """The real public captures in ../shared/captures (CI always has them)."""
    if not (SHARED_CAPTURES / "SOURCES.md").is_file():
        pytest.skip(f"real public captures not found at {SHARED_CAPTURES} (../shared is absent outside CI)")
    return SHARED_CAPTURES


@pytest.fixture(autouse=True)
def _fixed_redaction_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic redaction tokens in tests; never the developer's own key file."""
    monkeypatch.setenv("CONFAUDIT_REDACTION_KEY", "test-redaction-key-not-secret")


@pytest.fixture(autouse=True)
def _strict_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser bug raises under test (also in CLI child processes) instead of being counted as lost evidence."""
    monkeypatch.setenv("CONFAUDIT_STRICT_PARSERS", "1")


@pytest.fixture(scope="session")
def confaudit_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The confaudit wheel, built from this checkout once per test session (tests/support/wheel_support.py)."""
    from support.wheel_support import build_wheel

    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def wheel_venv(confaudit_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with confaudit installed from the wheel (its dependencies from the test venv)."""
    from support.wheel_support import fresh_venv_with

    return fresh_venv_with(confaudit_wheel, tmp_path_factory.mktemp("wheel-venv") / "venv")
