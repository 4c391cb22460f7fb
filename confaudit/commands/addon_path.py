"""`confaudit addon-path`: where the mitmproxy entry file of this installation is, for ``mitmdump -s``."""

from __future__ import annotations

import sys
from importlib.util import find_spec

from confaudit.errors import InputError

ENTRY_MODULE = "confaudit.mitmproxy_addon"


def addon_file() -> str:
    """The entry module's file, found without importing it (importing would create an addon instance)."""
    spec = find_spec(ENTRY_MODULE)
    if spec is None or not spec.origin or not spec.has_location:
        raise InputError(ENTRY_MODULE, "module not found in this installation (reinstall confaudit)")
    return spec.origin


def run() -> int:
    sys.stdout.write(addon_file() + "\n")
    return 0
