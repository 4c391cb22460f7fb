"""Canary media: audio and video that confaudit generates and knows, played by fake devices, looked for
in decrypted media (the known-plaintext E2EE test, docs/e2ee.md)."""

from confaudit.canary.media import CanaryMedia, write_canary_media
from confaudit.canary.spec import CanarySpec, load_spec, make_spec

__all__ = ["CanaryMedia", "CanarySpec", "load_spec", "make_spec", "write_canary_media"]
