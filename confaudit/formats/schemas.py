"""JSON Schemas (draft 2020-12) of confaudit's JSON outputs: findings, comparison and diff.

They ship in the package (``confaudit/formats/schema/*.schema.json``) and are published in ``docs/`` (a test keeps
the copies equal). Every output names its shape with ``format`` and its version with ``schema_version``
(major.minor), like the evidence bundle; shapes that are closed set ``additionalProperties: false`` so a
mistyped key fails validation. They refer to each other and to the bundle schema by ``$id``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

FINDINGS_SCHEMA_VERSION = "2.0"
"""2.0: the version key is ``schema_version`` (1.0 called it ``format_version``)."""
COMPARISON_SCHEMA_VERSION = "2.0"
"""2.0: the version key is ``schema_version`` (1 called it ``version``)."""
DIFF_SCHEMA_VERSION = "1.0"
OUTPUTS = ("findings", "comparison", "diff")


@lru_cache(maxsize=None)
def output_schema(name: str) -> dict[str, Any]:
    """The schema of one output: ``findings``, ``comparison`` or ``diff``."""
    if name not in OUTPUTS:
        raise ValueError(f"no schema for output {name!r}")
    text = resources.files("confaudit.formats").joinpath("schema", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _registry() -> Any:
    from referencing import Registry, Resource

    from confaudit.evidence.schema import bundle_schema

    schemas = [bundle_schema(), *(output_schema(name) for name in OUTPUTS)]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)


def validate_output(name: str, document: Any) -> list[str]:
    """The schema violations of ``document`` as output ``name`` (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(output_schema(name), registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]
