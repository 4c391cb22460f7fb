"""One module per CLI command: ``run(**options) -> int``, raising ``confaudit.errors`` exceptions; only ``cli.py`` exits."""
