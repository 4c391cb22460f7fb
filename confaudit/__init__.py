"""confaudit: audit what video-conference platforms do against what they claim."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version lives in pyproject.toml alone; it reaches every output's tool block through the installed
    # package's metadata, read on first use (importlib.metadata is not free at start-up).
    if name != "__version__":
        raise AttributeError(f"module 'confaudit' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("confaudit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
