"""Fold decoded events into per-party and per-data-flow tallies (:class:`EventFold`), for :mod:`party_sections`.

Events repeat the same fields (every request of a session sends its headers again), so a field is classified
once per (location, path, keys, value), and what its classification does to one party's data flows (which
:class:`FlowAcc` each match counts towards, or that the party's pattern limit omits it) is remembered with it:
a repeated field only updates the tallies.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from confaudit.redact import Redactor
from confaudit.telemetry.decode import Field
from confaudit.telemetry.fields import ClassifiedField, Located, classify_located
from confaudit.telemetry.known import KnownMatcher
from confaudit.telemetry.records import MAX_REFS, FlowAcc, PartyAcc, closeness

if TYPE_CHECKING:
    from typing import TypeAlias

    from confaudit.evidence_model import DataCategory, EvidenceRef
    from confaudit.telemetry.attribution import Result
    from confaudit.telemetry.events import EventRow
    from confaudit.telemetry.fields import FieldAt, Location
    from confaudit.telemetry.parties import Resolution
    from confaudit.telemetry.phases import PhaseIndex
    from confaudit.telemetry.records import Closeness, FlowKey, PartyKey, PhaseTally

    Hit: TypeAlias = tuple[FlowAcc | None, str, DataCategory, set[DataCategory], bool, FlowKey]
    """One match of a classified field for one party: (its data flow, None when the party's pattern limit
    omits it; reason; category; the party's category set it adds to; implicit; the data flow's key)."""

EXAMPLE_CAP = 120
MAX_PATTERNS_PER_CATEGORY = 300
MAX_CACHED = 10_000
"""Classified (location, path, keys, value) remembered: fields repeat across requests, memory must not grow with them."""
_INDEX_RE = re.compile(r"\[\d+\]")


def example_value(item: ClassifiedField, redactor: Redactor) -> str:
    from confaudit.redact import is_secret_header, is_secret_name

    value = item.field.value
    leaf = item.field.keys[-1] if item.field.keys else ""
    if (item.location == "header" and is_secret_header(leaf)) or (leaf and item.location != "header" and is_secret_name(leaf)):
        value = redactor.token(leaf, value)
    else:
        value = redactor.text(value)
    return value if len(value) <= EXAMPLE_CAP else value[:EXAMPLE_CAP - 1] + "…"


def add_ref(refs: list[EvidenceRef], ref: EvidenceRef) -> None:
    if len(refs) < MAX_REFS and ref not in refs:
        refs.append(ref)


class _Classified:
    """A field's classifications with their field patterns, and the hits they make per party (:data:`Hit`)."""

    __slots__ = ("items", "hits")

    def __init__(self, items: list[tuple[ClassifiedField, str]]) -> None:
        self.items = items
        self.hits: dict[PartyKey, _Hits] = {}


class _Hits:
    """One field's hits for one party, split for the fold: what each hit does once (a reason, a category
    for the party: :meth:`apply`) and what it does per event (the data flows it counts towards)."""

    __slots__ = ("hits", "flows", "omitted", "per_phase", "applied")

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.flows = [hit[0] for hit in hits if hit[0] is not None]
        self.omitted = len(hits) - len(self.flows)
        """Hits the party's pattern limit left without a data flow."""
        self.per_phase = [(hit[2], hit[5]) for hit in hits if hit[0] is not None and not hit[4]]
        """(category, data flow key) of the hits a phase counts (not implicit)."""
        self.applied = False

    def apply(self) -> None:
        """The reasons and party categories of the hits; doing it again changes nothing, so once is enough
        (the first time is where the per-hit fold did it: the same reasons are kept, in the same order)."""
        for flow, reason, category, target, _implicit, _key in self.hits:
            if flow is not None:
                reasons = flow.reasons
                if reason not in reasons and len(reasons) < 8:
                    reasons.append(reason)
                target.add(category)
        self.applied = True


class EventFold:
    """Per-party, per-data-flow and per-phase tallies, fed one event at a time (:meth:`add`)."""

    def __init__(self, parties: dict[PartyKey, PartyAcc], resolutions: dict[str, Resolution], index: PhaseIndex,
                 per_phase: dict[int, PhaseTally], matcher: KnownMatcher, redactor: Redactor,
                 repeated: set[tuple[str, str]], attribution: Result | None) -> None:
        self.parties, self.resolutions, self.index, self.per_phase = parties, resolutions, index, per_phase
        self.matcher, self.redactor, self.repeated, self.attribution = matcher, redactor, repeated, attribution
        self.flows: dict[FlowKey, FlowAcc] = {}
        self.pattern_counts: dict[tuple[PartyKey, DataCategory], int] = {}
        self.cache: dict[tuple[Location, str, tuple[str, ...], str], _Classified] = {}
        """Classifications by (location, path, keys, value): the first field seen since the last clear decides
        (its transforms included)."""
        self.known: dict[PartyKey, dict[FieldAt, _Hits]] = {}
        """Per party, the hits of whole fields whose classification is in :attr:`cache` (cleared with it)."""
        self.known_count = 0
        self._digit_places: dict[tuple[Location, str, tuple[str, ...], tuple[str, ...]], list[ClassifiedField]] = {}
        """Classifications of digits no known value matches, per place (:meth:`_classify`)."""
        self._party_of: dict[str, tuple[PartyKey, PartyAcc, str]] = {}
        """host -> (party key, tally, domain): the party of each host an event went to, looked up once."""

    def add(self, ordinal: int, event: EventRow) -> None:
        """Count event number ``ordinal`` (events without a host belong to no party)."""
        kind, rec_id, ts, host, located_fields, opaque_sizes, truncated, bytes_sent = event
        if not host:
            return
        party = self._party_of.get(host)
        if party is None:
            res = self.resolutions[host]
            pkey = (res.domain, res.entity)
            party = self._party_of[host] = (pkey, self.parties[pkey], res.domain)
        pkey, acc, domain = party
        ref: EvidenceRef = {"kind": kind, "id": rec_id}
        ref_key = (kind, rec_id)
        found = self.attribution.by_id.get(ref_key) if self.attribution is not None else None
        candidate = closeness(ref_key, found) if found is not None else None
        acc.ref_count += 1
        if len(acc.refs) < MAX_REFS:
            add_ref(acc.refs, ref)
        if kind != "websocket":
            acc.requests += 1
        else:
            acc.messages += 1
        acc.bytes_sent += bytes_sent
        if opaque_sizes:
            acc.opaque_payloads += 1
            acc.opaque_bytes += sum(opaque_sizes)
        if truncated:
            acc.truncated_payloads += 1
        window = self.index.at(ts) if self.index.windows else None
        phase_name = window.phase if window else None
        cats: dict[DataCategory, int] | None = None
        audio: set[FlowKey] | None = None
        if window is not None:
            stats = self.per_phase[window.index]
            stats["messages" if kind == "websocket" else "requests"] += 1
            stats["bytes_sent"] += bytes_sent
            stats["parties"].add(domain)
            cats, audio = stats["categories"], stats["audio_keys"]
        known = self.known.get(pkey)
        if known is None:
            known = self.known[pkey] = {}
        # Per event, each data flow counts the event once (``last_event``) and a reference several events
        # share (``repeated``) once, and keeps its first MAX_REFS references and the one closest to the vendor.
        shared_ref = ref_key in self.repeated
        nearer = candidate[:3] if candidate is not None else None
        omitted = 0
        for located in located_fields:
            field_hits = known.get(located)
            if field_hits is None:
                field_hits = self._hits(located, pkey, acc, known)
            if not field_hits.applied:
                field_hits.apply()
            omitted += field_hits.omitted
            if cats is not None and audio is not None:
                for category, key in field_hits.per_phase:
                    cats[category] = cats.get(category, 0) + 1
                    if category == "audio_metrics":
                        audio.add(key)
            for flow in field_hits.flows:
                flow.count += 1
                if flow.last_event == ordinal:
                    continue
                flow.last_event = ordinal
                if phase_name is not None and phase_name not in flow.phases:
                    flow.phases.append(phase_name)
                if shared_ref:
                    if ref_key in flow.repeated:
                        continue
                    flow.repeated.add(ref_key)
                flow.ref_count += 1
                if nearer is not None and (flow.nearest is None or nearer < flow.nearest):
                    flow.closest, flow.nearest = candidate, nearer
                refs = flow.refs
                if len(refs) < MAX_REFS and ref not in refs:
                    refs.append(ref)
        acc.omitted_fields += omitted

    def _hits(self, located: FieldAt, pkey: PartyKey, acc: PartyAcc, known: dict[FieldAt, _Hits]) -> _Hits:
        """The hits of one field for party ``pkey``; the data flows they count towards are made here, in order.
        Remembered in ``known`` (the party's :attr:`known`) while the field's classification is cached."""
        location, path, keys, value, transforms = located
        cache_key = (location, path, keys, value)
        entry = self.cache.get(cache_key)
        if entry is None:
            entry = _Classified([(c, _INDEX_RE.sub("[*]", c.field.path)) for c in self._classify(located)])
            if len(value) >= 2000:
                return _Hits(self._resolve(entry, pkey, acc))
            if len(self.cache) >= MAX_CACHED:
                self.cache.clear()
                self._forget()
            self.cache[cache_key] = entry
        hits = entry.hits.get(pkey)
        if hits is None:
            hits = entry.hits[pkey] = _Hits(self._resolve(entry, pkey, acc))
        if self.known_count >= MAX_CACHED:
            self._forget()
        known[located] = hits
        self.known_count += 1
        return hits

    def _classify(self, located: FieldAt) -> list[ClassifiedField]:
        """``classify_located`` of the field; digits that no known value matches are classified once per place
        (location, path, keys, transforms) and given the field's own value: no shape test matches digits alone
        (taxonomy.classify_value), so only the place decides what an id or a counter is."""
        location, path, keys, value, transforms = located
        if not (value.isdigit() and not self.matcher.match(value)):
            return classify_located(Located(location, Field(path, keys, value, transforms)), self.matcher)
        place = (location, path, keys, transforms)
        found = self._digit_places.get(place)
        if found is None:
            if len(self._digit_places) >= MAX_CACHED:
                self._digit_places.clear()
            found = self._digit_places[place] = classify_located(Located(location, Field(path, keys, value, transforms)),
                                                                 self.matcher)
        # the field each classification holds, as classify_located builds it (a header's is its own, keyed by name)
        return [ClassifiedField(c.location, c.field._replace(value=value), c.matches, c.implicit) for c in found]

    def _forget(self) -> None:
        for known in self.known.values():
            known.clear()
        self.known_count = 0

    def _resolve(self, entry: _Classified, pkey: PartyKey, acc: PartyAcc) -> list[Hit]:
        hits: list[Hit] = []
        for classified, pattern in entry.items:
            for match in classified.matches:
                key = (pkey, match.category, classified.location, pattern, classified.implicit)
                flow = self.flows.get(key)
                if flow is None:
                    limit_key = (pkey, match.category)
                    if self.pattern_counts.get(limit_key, 0) < MAX_PATTERNS_PER_CATEGORY:
                        self.pattern_counts[limit_key] = self.pattern_counts.get(limit_key, 0) + 1
                        flow = self.flows[key] = FlowAcc(classified.field.path, example_value(classified, self.redactor),
                                                         [], list(classified.field.transforms))
                target = acc.implicit if classified.implicit else acc.categories
                hits.append((flow, match.reason, match.category, target, classified.implicit, key))
        return hits
