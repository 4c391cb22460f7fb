"""Readers of the evidence bundle and helpers shared by the check predicates.

Sections are read through the typed readers of confaudit.evidence_model (each record has the
TypedDict of its section). The bundle is attacker-influenced: a value can still be missing or of the
wrong type, so lookups tolerate that. A missing section means "not observable", never "nothing there".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from confaudit.evidence_model import section_object, section_records
from confaudit.rules.model import Outcome

MAX_REFS = 25
"""Evidence references kept per finding; the rest are summarised in one extra reference."""


records = section_records
"""Typed list section reader (``records(bundle, "flows") -> list[Flow] | None``); see confaudit.evidence_model."""
obj = section_object
"""Typed object section reader (``obj(bundle, "media_path") -> MediaPath | None``)."""


def as_list(value: object) -> list[Any]:
    """``value`` when it is a list, else an empty list (a wrong-typed field counts as no entries)."""
    return value if isinstance(value, list) else []


def as_str(value: object) -> str:
    """``value`` when it is a string, else '' (a wrong-typed field counts as empty)."""
    return value if isinstance(value, str) else ""


def text(value: Any, limit: int = 200) -> str:
    """A short printable string for an explanation or a reference detail."""
    if value is None:
        return ""
    raw = value if isinstance(value, str) else str(value)
    out = raw if raw.isprintable() else "".join(ch if ch.isprintable() else "?" for ch in raw)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def record_id(item: Mapping[str, Any], fallback: str) -> str:
    rid = item.get("id")
    return text(rid, 80) if isinstance(rid, (str, int)) and str(rid) else fallback


def ref(kind: str, rid: Any, detail: str = "") -> dict[str, str]:
    return {"kind": kind, "id": text(rid, 80), "detail": text(detail)}


def flow_ref(item: Mapping[str, Any]) -> list[dict[str, str]]:
    """References to the flow and first packet a record names (``flow``, ``packet``, ``first_packet``, ``packets``)."""
    out = []
    flow = item.get("flow")
    if isinstance(flow, (str, int)) and str(flow):
        out.append(ref("flow", flow))
    raw_packets = item.get("packets")
    packets: list[Any] = raw_packets if isinstance(raw_packets, list) else []
    for candidate in [item.get("packet"), item.get("first_packet"), *packets[:1]]:
        if isinstance(candidate, Mapping) and isinstance(candidate.get("id"), (str, int)) and str(candidate["id"]):
            out.append(ref(str(candidate.get("kind") or "packet"), candidate["id"]))
            break
    return out


def capped(refs: Iterable[Mapping[str, str]]) -> tuple[Mapping[str, str], ...]:
    """Deduplicate references and keep at most MAX_REFS, noting how many were left out."""
    seen: dict[tuple[str, str, str], Mapping[str, str]] = {}
    for r in refs:
        seen.setdefault((r["kind"], r["id"], r.get("detail", "")), r)
    kept = list(seen.values())
    if len(kept) <= MAX_REFS:
        return tuple(kept)
    return tuple(kept[:MAX_REFS]) + (ref("note", "more", f"{len(kept) - MAX_REFS} more references omitted"),)


SECONDARY_KINDS = frozenset({"flow", "packet"})


def balanced(refs: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """Interleave evidence by kind (http, sip, tls ...) so a capped list still shows every kind of problem.

    A unit is a primary reference followed by its flow/packet references; units keep their order within a kind.
    """
    groups: dict[str, list[list[Mapping[str, str]]]] = {}
    for r in refs:
        if r["kind"] in SECONDARY_KINDS and groups:
            last_kind = next(reversed(groups))
            groups[last_kind][-1].append(r)
        else:
            groups.setdefault(r["kind"], []).append([r])
    out: list[Mapping[str, str]] = []
    queues = [list(units) for units in groups.values()]
    while any(queues):
        for queue in queues:
            if queue:
                out.extend(queue.pop(0))
    return out


def outcome(verdict: str, explanation: str, refs: Iterable[Mapping[str, str]] = ()) -> Outcome:
    return Outcome(verdict=verdict, explanation=explanation, evidence=capped(refs))


def listing(values: object, limit: int = 5, width: int = 80) -> str:
    """'a, b and c' (with '... and N more' past ``limit``); non-list values count as empty."""
    items = [text(v, width) for v in values] if isinstance(values, (list, tuple, set, frozenset, dict)) else []
    if not items:
        return "none"
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def plural(n: int, word: str) -> str:
    """'1 stream', '2 streams', '3 parties' (the last word of ``word`` is pluralised)."""
    if n == 1:
        return f"{n} {word}"
    head, _, last = word.rpartition(" ")
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    else:
        last += "s"
    return f"{n} {head + ' ' if head else ''}{last}"


def were(n: int) -> str:
    return "was" if n == 1 else "were"


def sentence(text_: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case names like TLS)."""
    return text_[:1].upper() + text_[1:]


def all_of(n: int, word: str) -> str:
    """'the 1 observed stream' / 'all 4 observed streams'."""
    return f"the {plural(n, word)}" if n == 1 else f"all {plural(n, word)}"


def domain_matches(domain: str, pattern: str) -> bool:
    """True when ``domain`` equals ``pattern`` or is a subdomain of it (case-insensitive)."""
    d = domain.lower().rstrip(".")
    p = pattern.lower().rstrip(".").lstrip("*").lstrip(".")
    return bool(p) and (d == p or d.endswith("." + p))


def party_names(party: Mapping[str, Any]) -> list[str]:
    """Domain and entity names a party record is known by."""
    names = []
    for key in ("domain", "entity"):
        value = party.get(key)
        if isinstance(value, str) and value:
            names.append(value)
    return names


class NameMatcher:
    """Case-insensitive match of names against domains (with subdomains) and entity names, memoised."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._exact = {p.lower().rstrip(".").lstrip("*").lstrip(".") for p in patterns if isinstance(p, str) and p.strip("*. ")}
        self._seen: dict[str, bool] = {}

    def name(self, name: str) -> bool:
        hit = self._seen.get(name)
        if hit is None:
            labels = name.lower().rstrip(".").split(".")
            hit = any(".".join(labels[i:]) in self._exact for i in range(len(labels)))
            if len(self._seen) < 100_000:
                self._seen[name] = hit
        return hit

    def any(self, names: Iterable[object]) -> bool:
        return any(self.name(n) for n in names if isinstance(n, str))


def matches_any(names: Iterable[str], patterns: Iterable[str]) -> bool:
    """True when any name equals (case-insensitive) or is a subdomain of any pattern."""
    return NameMatcher(patterns).any(names)


def str_set(value: Any) -> set[str]:
    """A set of lower-case strings from a string, list of strings or None."""
    if isinstance(value, str):
        return {value.lower()}
    if isinstance(value, (list, tuple, set)):
        return {v.lower() for v in value if isinstance(v, str)}
    return set()


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value else None


SCOPES = ("vendor", "device")
"""Claim scopes: ``vendor`` judges the vendor's traffic and what its pages/app sent to third parties; ``device``
judges everything captured (the claim is about the whole device)."""
IN_VENDOR_SCOPE = frozenset({"vendor", "third_party_of_vendor"})


def role(item: Mapping[str, Any]) -> str:
    """The record's attribution role (vendor | third_party_of_vendor | background | unknown); unknown when absent."""
    attribution = item.get("attribution")
    value = attribution.get("role") if isinstance(attribution, Mapping) else None
    return value if value in ("vendor", "third_party_of_vendor", "background", "unknown") else "unknown"


def role_reason(item: Mapping[str, Any]) -> str:
    """The first attribution reason of a record ('' when none)."""
    attribution = item.get("attribution")
    reasons = attribution.get("reasons") if isinstance(attribution, Mapping) else None
    return text(reasons[0], 160) if isinstance(reasons, list) and reasons else ""


def scope_of(params: Mapping[str, Any]) -> str:
    return "device" if params.get("scope") == "device" else "vendor"


def judged(item_role: str, scope: str) -> bool:
    """Whether a record of this role counts for a claim of this scope."""
    return scope == "device" or item_role in IN_VENDOR_SCOPE


def scope_words(scope: str) -> str:
    return "anywhere on the device" if scope == "device" else "attributable to the vendor"


MediaSection = Literal["media_streams", "dtls", "sdp", "stun", "zoom"]
MEDIA_SECTIONS: tuple[MediaSection, ...] = ("media_streams", "dtls", "sdp", "stun", "zoom")
"""Bundle sections whose records belong to one flow of a call."""


FOREIGN_CALL_REASONS = ("another operator's call", "another program's call")
"""What attribution says of call traffic that is not the vendor's call: another app's call with another
operator's far end, or a call between other programs' sockets on the recording machine (telemetry.local_sockets)."""


def foreign_call_flows(bundle: Mapping[str, Any]) -> dict[str, str]:
    """flow id -> why: call traffic attribution gave to another operator or another program (another call in the
    same capture).

    Only a positive background attribution counts: unattributed media stays judged (fail closed).
    """
    out = {}
    for flow in records(bundle, "flows") or []:
        fid = flow["id"]
        if isinstance(fid, str) and role(flow) == "background" and any(r in role_reason(flow) for r in FOREIGN_CALL_REASONS):
            out[fid] = role_reason(flow)
    return out


def vendor_media_view(bundle: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[dict[str, str]]]:
    """The bundle without other operators' call traffic (media checks judge the vendor's call), and references
    to what was left out. The media path's topology is recomputed from the remaining media flows."""
    foreign = foreign_call_flows(bundle)
    if not foreign:
        return bundle, []
    view = dict(bundle)
    for key in MEDIA_SECTIONS:
        items = records(bundle, key)
        if items is not None:
            view[key] = [r for r in items if as_str(r.get("flow")) not in foreign]
    phases = records(bundle, "phase_summary")
    if phases is not None:  # the audio measured in each phase, stream by stream
        view["phase_summary"] = [{**p, "audio_media": [m for m in p["audio_media"] if not isinstance(m, Mapping)
                                                       or as_str(m.get("flow")) not in foreign]}
                                 if isinstance(p["audio_media"], list) else p for p in phases]
    path = obj(bundle, "media_path")
    if path is not None and isinstance(path.get("flows"), list):
        from confaudit.analysis.path import topology_of

        kept = [f for f in path["flows"] if isinstance(f, Mapping) and as_str(f.get("flow")) not in foreign]
        view["media_path"] = {**path, "flows": kept, "topology": topology_of(kept),
                              "endpoints": [e for e in path["endpoints"] or [] if isinstance(e, Mapping)
                                            and any(f not in foreign for f in e.get("flows") or [])]}
    left_out = [ref("flow", fid, f"not judged: {why}") for fid, why in sorted(foreign.items())]
    return view, left_out


def judging_vendor_media(predicate: Any) -> Any:
    """Wrap a media check so it judges the vendor's call only; the outcome names what was left out."""
    import functools

    @functools.wraps(predicate)
    def judge(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
        view, left_out = vendor_media_view(bundle)
        result = predicate(view, params)
        if not left_out:
            return result
        whose = " or ".join(r for r in FOREIGN_CALL_REASONS if any(r in str(x.get("detail", "")) for x in left_out))
        note = f" ({plural(len(left_out), 'flow')} of {whose or FOREIGN_CALL_REASONS[0]} in the same capture {were(len(left_out))} not judged.)"
        return Outcome(result.verdict, result.explanation + note, capped(list(result.evidence) + left_out))

    return judge
