"""Generate confaudit/evidence_model.py (TypedDicts) from the bundle's JSON Schema fragments.

The schema (confaudit/evidence/schema/*.json, published as docs/evidence.schema.json) is the one
definition of the bundle; this writes its Python shape so producers, checks and reports have types
to follow. ``--check`` exits 1 when the checked-in model differs from what the schema gives
(tests/evidence/test_evidence_model.py runs it).

    python scripts/gen_evidence_model.py          # rewrite the model
    python scripts/gen_evidence_model.py --check  # fail when it drifted
"""

from __future__ import annotations

import argparse
import json
import keyword
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "confaudit" / "evidence" / "schema"
MODEL = REPO / "confaudit" / "evidence_model.py"

CLASS_NAMES = {
    "pkt_flow": "Flow", "pkt_flow_id": "FlowId", "pkt_hex16": "Hex16", "pkt_ref": "PacketRef",
    "pkt_dns": "DnsLookup", "pkt_dtls": "DtlsHandshake", "pkt_media_stream": "MediaStream",
    "pkt_quic": "QuicConnection", "pkt_ice_candidate": "IceCandidate", "pkt_stun_side": "StunSide", "pkt_sdp": "SdpBody", "pkt_sdp_media": "SdpMedia", "pkt_stun": "StunFlow", "pkt_tls": "TlsConnection",
    "http_record": "HttpExchange", "http_body": "HttpBody", "http_endpoint": "HttpEndpoint",
    "http_pairs": "HttpPairs", "http_clienthello": "ClientHello", "http_udp_flow": "ProxyUdpFlow",
    "http_websocket": "WebSocketMessage", "input": "InputSummary", "session_integrity": "SessionIntegrity",
    "telemetry_attribution": "Attribution", "telemetry_category": "DataCategory",
    "telemetry_data_flow": "DataFlow", "telemetry_entity_list": "EntityList",
    "telemetry_evidence_ref": "EvidenceRef", "telemetry_list_ref": "EntityListRef",
    "telemetry_party": "Party", "telemetry_phase_summary": "PhaseSummary",
    "telemetry_room_links": "RoomLinks", "telemetry_traffic_attribution": "TrafficAttribution",
    "e2ee_audio_evidence": "E2eeAudioEvidence", "e2ee_canary": "E2eeCanary",
    "e2ee_canary_source": "E2eeCanarySource", "e2ee_keylog": "E2eeKeylog", "e2ee_sdes": "E2eeSdes",
    "e2ee_session": "E2eeSession", "e2ee_srtcp": "E2eeSrtcp", "e2ee_stream": "E2eeStream",
    "e2ee_summary": "E2eeSummary", "timestamp": "Timestamp",
}
"""Names for the schema's $defs (a def without an entry gets its CamelCase name)."""

SECTION_ITEMS = {"sip": "SipMessage", "zoom": "ZoomFlow", "http_plain": "PlainHttpRequest",
                 "session": "SessionProvenance", "country_table": "CountryTableProvenance", "e2ee": "E2eeTest", "vendor": "AuditedVendor", "tool": "ToolInfo"}
"""Names for the records of bundle sections defined inline (not through a $def)."""

SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_") if part)


def singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name + "_item"


def merged_schema() -> dict[str, Any]:
    merged: dict[str, Any] = {"properties": {}, "required": [], "$defs": {}}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        fragment = json.loads(path.read_text(encoding="utf-8"))
        merged["properties"].update(fragment.get("properties", {}))
        merged["$defs"].update(fragment.get("$defs", {}))
        merged["required"] += [k for k in fragment.get("required", []) if k not in merged["required"]]
    return merged


class Writer:
    """Turns schema nodes into Python type expressions, emitting a TypedDict per object with properties."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.blocks: list[str] = []
        self.emitted: set[str] = set()

    def def_name(self, ref: str) -> str:
        key = ref.rsplit("/", 1)[-1]
        return CLASS_NAMES.get(key, camel(key))

    def type_of(self, node: dict[str, Any], hint: str) -> str:
        if "$ref" in node:
            target = self.defs.get(node["$ref"].rsplit("/", 1)[-1], {})
            nullable = "null" in as_list(target.get("type")) and target.get("properties")
            return self.def_name(node["$ref"]) + (" | None" if nullable else "")
        for combinator in ("anyOf", "oneOf"):
            if combinator in node:
                parts = [self.type_of(sub, f"{hint}{i}" if i else hint) for i, sub in enumerate(node[combinator])]
                return union(parts)
        if "const" in node:
            return f"Literal[{node['const']!r}]"
        if "enum" in node:
            return union([f"Literal[{', '.join(repr(v) for v in node['enum'] if v is not None)}]"]
                         + (["None"] if None in node["enum"] else []))
        types = node.get("type")
        if types is None:
            return "Any"
        types = types if isinstance(types, list) else [types]
        return union([self.single(t, node, hint) for t in types])

    def single(self, kind: str, node: dict[str, Any], hint: str) -> str:
        if kind in SCALARS:
            return SCALARS[kind]
        if kind == "array":
            items = node.get("items")
            item_hint = hint if hint in SECTION_ITEMS.values() else singular(hint)
            return f"list[{self.type_of(items, item_hint) if isinstance(items, dict) else 'Any'}]"
        if node.get("properties"):
            self.typed_dict(hint, node)
            return camel(hint)
        extra = node.get("additionalProperties")
        value = self.type_of(extra, hint + "_value") if isinstance(extra, dict) else "Any"
        return f"dict[str, {value}]"

    def typed_dict(self, hint: str, node: dict[str, Any], name: str | None = None) -> None:
        name = name or camel(hint)
        if name in self.emitted:
            return
        self.emitted.add(name)
        required = set(node.get("required", []))
        lines = [f"class {name}(TypedDict):"]
        if node.get("description"):
            lines += [f"    {docstring(node['description'], 4)}", ""]
        for key, sub in sorted(node["properties"].items()):
            hint = SECTION_ITEMS.get(key, key) if name == "EvidenceBundle" else f"{name}_{key}"
            annotation = self.type_of(sub, hint)
            annotation = annotation if key in required else f"NotRequired[{annotation}]"
            field = key if key.isidentifier() and not keyword.iskeyword(key) else None
            if field is None:
                raise SystemExit(f"schema property {key!r} of {name} is not a Python identifier")
            lines.append(f"    {field}: {annotation}")
            described = sub.get("description") or (self.defs.get(sub.get("$ref", "").rsplit("/", 1)[-1], {})
                                                   .get("description") if "$ref" in sub else None)
            if described:
                lines.append(f"    {docstring(described, 4)}")
        self.blocks.append("\n".join(lines))

    def alias(self, key: str, node: dict[str, Any]) -> None:
        name = self.def_name(key)
        if node.get("properties") and "object" in as_list(node.get("type", "object")):
            self.typed_dict(name, node, name)
            return  # a nullable def is "Name | None" where it is used
        text = f"{name}: TypeAlias = {self.type_of(node, name)}"
        if node.get("description"):
            text += f"\n{docstring(node['description'], 0)}"
        self.blocks.append(text)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def union(parts: list[str]) -> str:
    out: list[str] = []
    for part in parts:
        if part not in out:
            out.append(part)
    return " | ".join(out)


def docstring(text: str, indent: int) -> str:
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{text}"""'


def render() -> str:
    schema = merged_schema()
    writer = Writer(schema["$defs"])
    for key, node in sorted(schema["$defs"].items()):
        writer.alias(key, node)
    top = {"properties": schema["properties"], "required": schema["required"],
           "description": "The whole evidence bundle: one key per section (see docs/evidence.md)."}
    writer.typed_dict("EvidenceBundle", top, "EvidenceBundle")
    writer.blocks.append(list_sections(schema["properties"], writer))
    header = ('"""Typed shape of the evidence bundle (GENERATED by scripts/gen_evidence_model.py from\n'
              'confaudit/evidence/schema/*.json; do not edit by hand, edit the schema and regenerate).\n\n'
              'Keys without NotRequired[...] are present in every valid bundle (load_bundle validates a bundle read from a\n'
              'file; tests validate what the producers build), and the typed readers below hand out only records that\n'
              'carry them; NotRequired keys may be absent: an absent section means "not observable", never "nothing there".\n"""\n\n'
              "from __future__ import annotations\n\n"
              "from collections.abc import Iterator, Mapping\n"
              "from contextlib import contextmanager\n"
              "from typing import Any, Literal, NotRequired, TypeAlias, TypedDict, overload\n")
    return header + "\n\n" + "\n\n\n".join(writer.blocks) + "\n"


def list_sections(properties: dict[str, Any], writer: Writer) -> str:
    """A typed, overloaded reader of the bundle's list and object sections."""
    lists: list[tuple[str, str]] = []
    objects: list[tuple[str, str]] = []
    required: dict[str, tuple[str, ...]] = {}
    for key, node in sorted(properties.items()):
        items = node.get("items") if node.get("type") == "array" else None
        if isinstance(items, dict):
            item_def = writer.defs.get(items.get("$ref", "").rsplit("/", 1)[-1], items)
            if item_def.get("properties"):  # records (objects), not e.g. the warnings' strings
                lists.append((key, writer.type_of(items, SECTION_ITEMS.get(key, singular(key)))))
                required[key] = tuple(item_def.get("required", []))
            continue
        target = writer.defs.get(node.get("$ref", "").rsplit("/", 1)[-1], node)
        refs = [sub for sub in node.get("anyOf", []) if "$ref" in sub]
        if refs:
            target = writer.defs.get(refs[0]["$ref"].rsplit("/", 1)[-1], {})
        if "object" in as_list(target.get("type")) and target.get("properties"):
            name = writer.type_of(refs[0] if refs else node, SECTION_ITEMS.get(key, key)).replace(" | None", "")
            objects.append((key, name.replace("None | ", "")))
            required[key] = tuple(target.get("required", []))
    out = [REQUIRED_DOC.format(rows="".join(f"    {k!r}: {v!r},\n" for k, v in sorted(required.items()) if v))]
    for key, item_type in lists:
        out.append(f"@overload\ndef section_records(bundle: Mapping[str, Any], key: Literal[{key!r}]) -> list[{item_type}] | None: ...")
    out.append(RECORDS_IMPL)
    for key, name in objects:
        out.append(f"@overload\ndef section_object(bundle: Mapping[str, Any], key: Literal[{key!r}]) -> {name} | None: ...")
    out.append(OBJECT_IMPL)
    return "\n".join(out)


REQUIRED_DOC = '''REQUIRED_KEYS: dict[str, tuple[str, ...]] = {{
{rows}}}
"""The keys the schema requires of each list section's records and of each object section."""
_REQUIRED_SETS = {{section: frozenset(keys) for section, keys in REQUIRED_KEYS.items()}}


def missing_keys(key: str, record: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys section ``key``'s schema requires that ``record`` lacks."""
    return tuple(k for k in REQUIRED_KEYS.get(key, ()) if k not in record)


def records_lacking_keys(bundle: Mapping[str, Any]) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Per section, how many of its records (or the object section itself, counted as one) lack a required
    key, and which keys: what the typed readers leave out. Empty for a bundle the producers or the schema
    vouch for."""
    out: dict[str, tuple[int, tuple[str, ...]]] = {{}}
    for key in REQUIRED_KEYS:
        value = bundle.get(key) if isinstance(bundle, Mapping) else None
        items = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else []
        need = _REQUIRED_SETS[key]
        lacking = [missing_keys(key, item) for item in items
                   if (type(item) is dict or isinstance(item, Mapping)) and not item.keys() >= need]
        lacking = [m for m in lacking if m]
        if lacking:
            out[key] = (len(lacking), tuple(sorted({{k for m in lacking for k in m}})))
    return out
'''

RECORDS_IMPL = '''

def section_records(bundle: Mapping[str, Any], key: str) -> list[Any] | None:
    """The whole object records of list section ``key``; None when the section is absent or not a list (not
    observable).

    A record that is not an object or lacks a key its schema requires is left out: readers may index the
    required keys. :func:`records_lacking_keys` counts what was left out (the rules engine makes it a reason
    the evidence is incomplete). A value may still be of the wrong type in a bundle no schema check has
    seen, so readers of its fields stay type-careful.
    """
    value = bundle.get(key) if isinstance(bundle, Mapping) else None
    if not isinstance(value, list):
        return None
    if _read is not None:
        found = _read.get((id(value), key))
        if found is not None and found[0] is value and found[1] == len(value):
            return list(found[2])
    need = _REQUIRED_SETS.get(key, frozenset())
    # the type test spares 100,000 records the slower ABC check
    whole = [item for item in value if (type(item) is dict or isinstance(item, Mapping)) and item.keys() >= need]
    if _read is not None:
        _read[(id(value), key)] = (value, len(value), whole)
    return list(whole) if _read is not None else whole


_read: dict[tuple[int, str], tuple[list[Any], int, list[Any]]] | None = None


@contextmanager
def sections_read_once() -> Iterator[None]:
    """Inside, :func:`section_records` filters each section list once: the checks of one evaluation (and the
    views of one report) read the same sections many times, and nothing modifies a bundle they read. Each
    caller still gets its own list. Nested uses share the outermost's answers."""
    global _read
    if _read is not None:
        yield
        return
    _read = {}
    try:
        yield
    finally:
        _read = None

'''

OBJECT_IMPL = '''

def section_object(bundle: Mapping[str, Any], key: str) -> Any:
    """Object section ``key``; None when it is absent, null, not an object or lacks a required key (not
    observable; :func:`records_lacking_keys` counts the last case)."""
    value = bundle.get(key) if isinstance(bundle, Mapping) else None
    if not isinstance(value, Mapping) or missing_keys(key, value):
        return None
    return value'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the model differs from the schema")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not MODEL.is_file() or MODEL.read_text(encoding="utf-8") != text:
            print(f"{MODEL.relative_to(REPO)} is out of date: run python scripts/gen_evidence_model.py", file=sys.stderr)
            return 1
        return 0
    MODEL.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
