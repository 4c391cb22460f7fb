"""confaudit: audit what video-conference platforms do against what they claim."""

__version__ = "0.1.0"
__all__ = ["__version__"]
