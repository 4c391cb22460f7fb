"""Evidence bundle: the versioned, deterministic JSON contract every later stage consumes."""

SCHEMA_VERSION = "1.0"
