"""Checks ``room_links`` (hard-to-guess, fresh links), ``room_lock`` (a locked room refuses late joiners)
and ``no_audio_while_muted``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import PhaseSummary
from confaudit import room_link_stats
from confaudit.rules.checks._common import as_list, judging_vendor_media, number, obj, outcome, plural, record_id, records, ref, text
from confaudit.rules.model import Outcome

MUTED_PHASES = frozenset({"muted", "mute", "mic-off", "microphone-off"})
SCENARIO_LINK_PATTERN = r"([^/?#]+)/?(?:[?#].*)?$"
"""Without a claims file's room_link_pattern, a scenario link's room id is its last path segment."""
CUT_SHORT = {"time": "time limit", "matches": "limit of matches"}
"""Limits that stop a room-link scan before it has read the evidence (the pattern, not the evidence, is at
fault): the claim is not judged. The sample limit is not among them: thousands of ids are enough."""


def room_link_summary(bundle: Mapping[str, Any], pattern: str | None) -> Mapping[str, Any] | None:
    """The bundle's room_links, or, when that found no links, the claims file's pattern applied to the section's
    ``candidate_urls`` (the HTTP and WebSocket URLs telemetry put there).

    The pattern was checked when the claims file was loaded; a ValueError here is a bug and propagates
    (the engine makes it ``error``), never "no links"; a scan stopped by its limits is ``inconclusive``.
    """
    summary = obj(bundle, "room_links")
    if summary and (summary.get("samples") or _cut_short(summary)):
        return summary
    if not pattern:
        return summary
    candidates = summary.get("candidate_urls") if summary else None
    urls = [u for u in candidates if isinstance(u, str)] if isinstance(candidates, list) else []
    result = _analysis(pattern, tuple(urls))
    return result if result.get("samples") or _cut_short(result) else summary


@functools.lru_cache(maxsize=1)
def _analysis(pattern: str, urls: tuple[str, ...]) -> Mapping[str, Any]:
    """One bounded scan per pattern and evidence: every room_links claim of a file asks the same question."""
    return room_link_stats.analyze_room_links(list(urls), pattern)


def _cut_short(summary: Mapping[str, Any]) -> str | None:
    """The limit that stopped the room-link scan before it read the evidence, or None."""
    stopped = summary.get("stopped")
    return CUT_SHORT.get(stopped) if isinstance(stopped, str) else None


def _freshness(summary: Mapping[str, Any]) -> bool | None:
    """False when one link served several rooms, True when several distinct links were seen, else None."""
    reused = summary.get("reused_ids")
    if isinstance(reused, list) and reused:
        return False
    distinct = summary.get("distinct_ids")
    if isinstance(distinct, int) and not isinstance(distinct, bool):
        return True if distinct >= 2 else None
    return None


def scenario_events(bundle: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [e for e in records(bundle, "scenario_events") or [] if e["kind"] == kind]


def _event_id(event: Mapping[str, Any]) -> str:
    return f"{text(event.get('session'), 40)}:{text(event.get('line'), 8)}" if event.get("session") else \
        f"line {text(event.get('line'), 8)}"


def scenario_link_summary(bundle: Mapping[str, Any], pattern: str | None) -> Mapping[str, Any] | None:
    """The room links a scenario's new_room steps created (each a room of its own), analysed like captured
    links: two steps giving the same id is reuse; distinct ids are fresh links. None without such steps."""
    made = [e for e in scenario_events(bundle, "new_room") if isinstance(e.get("link"), str)]
    if not made:
        return None
    links = tuple((e["link"], f"new_room:{_event_id(e)}") for e in made)
    return _scenario_analysis(pattern or SCENARIO_LINK_PATTERN, links)


@functools.lru_cache(maxsize=4)
def _scenario_analysis(pattern: str, links: tuple[tuple[str, str], ...]) -> Mapping[str, Any]:
    result = room_link_stats.analyze_room_links([{"url": url, "room": room} for url, room in links], pattern)
    return dict(result, source="scenario", rooms=len(links))


def room_links(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    summary = scenario_link_summary(bundle, params.get("_room_link_pattern"))
    if summary is not None and summary.get("samples"):
        return _judge_links(summary, params, scenario=True)
    pattern = params.get("_room_link_pattern")
    found = room_link_summary(bundle, pattern)
    section = obj(bundle, "room_links")
    if pattern and not (found and (found.get("samples") or _cut_short(found))) \
            and not isinstance((section or {}).get("candidate_urls"), list):
        return outcome("not_observable", "The evidence has no room-link candidates (room_links.candidate_urls, written "
                       "by the telemetry stage) to match the claims file's room_link_pattern against; analyse the raw "
                       "inputs again.")
    return _judge_links(found, params, scenario=False)


def _judge_links(found: Mapping[str, Any] | None, params: Mapping[str, Any], scenario: bool) -> Outcome:
    summary: Mapping[str, Any] = found or {}
    limit = _cut_short(summary) if found else None
    if limit:
        # the claims file's pattern, not a confaudit bug: unsettled (inconclusive), never "no links", never exit 4
        return outcome("inconclusive", f"Matching the room_link_pattern was stopped by its {limit} after "
                       f"{text(summary.get('texts_read'), 12)} of {text(summary.get('texts'), 12)} texts, so room links "
                       "were not judged; a simpler, more specific pattern would finish.")
    distinct = summary.get("distinct_ids")
    count = distinct if isinstance(distinct, int) and not isinstance(distinct, bool) and distinct > 0 else 0
    if not count:
        return outcome("not_observable", "No room links were found in the evidence.")
    minimum = float(params.get("min_entropy_bits", 0) or 0)
    entropy = number(summary.get("entropy_bits"))
    fresh = _freshness(summary)
    # Room links are capabilities to join the auditor's rooms: cite their shape, never the links themselves.
    length = summary.get("length") if isinstance(summary.get("length"), Mapping) else {}
    classes = as_list(summary.get("alphabet_classes"))
    shape = [f"{count} distinct ids"]
    if entropy is not None:
        shape.append(f"about {entropy:.1f} bits")
    if length:
        shape.append(f"length {text(length.get('min'), 6)}-{text(length.get('max'), 6)}")
    if classes:
        shape.append("alphabet " + "+".join(text(c, 20) for c in classes[:6]))
    refs = [ref("room_links", "summary", ", ".join(shape) + (f" from {plural(int(number(summary.get('rooms')) or 0), 'new_room step')} of "
                                                         "the scenario" if scenario else ""))]
    reused = as_list(summary.get("reused_ids"))
    if reused:
        refs.append(ref("room_links", "reused", f"{plural(len(reused), 'id')} used for several rooms"))
    problems, unknown = [], []
    if minimum:
        if entropy is None:
            unknown.append("entropy")
        elif entropy < minimum:
            problems.append(f"links carry about {entropy:.0f} bits of entropy, below the {minimum:.0f} claimed")
    if params.get("fresh_per_room"):
        if fresh is False:
            problems.append("the same link was reused for different rooms")
        elif fresh is not True:
            unknown.append("freshness (needs links of at least two rooms)")
    if problems:
        return outcome("contradicted", f"Across {plural(count, 'distinct room link')}, " + " and ".join(problems) + ".", refs)
    if unknown:
        return outcome("not_observable", f"The {plural(count, 'distinct room link')} cannot show link "
                       + " or ".join(unknown) + ".", refs)
    desc = f"about {entropy:.0f} bits of entropy" if entropy is not None else "the claimed properties"
    fresh_text = ", a fresh link per room" if params.get("fresh_per_room") else ""
    return outcome("supported", f"The {plural(count, 'distinct room link')} had {desc}{fresh_text}.", refs)


def _audio(entry: PhaseSummary) -> tuple[float, float, int]:
    """(packets/s, bits/s, audio-metrics flows) of one phase_summary entry: the rates of its ``audio_media``
    streams summed (a stream without a rate adds nothing) and its ``audio_metrics_flows`` counted."""
    rates = [m for m in as_list(entry["audio_media"]) if isinstance(m, Mapping)]
    pps = sum(v for v in (number(m.get("packets_per_s")) for m in rates) if v is not None)
    bps = sum(v * 8 for v in (number(m.get("bytes_per_s")) for m in rates) if v is not None)
    return float(pps), float(bps), len(as_list(entry["audio_metrics_flows"]))


def _is_muted(entry: PhaseSummary) -> bool:
    return entry["muted"] is True or str(entry["phase"]).lower() in MUTED_PHASES


@judging_vendor_media  # a muted client is judged on its own call, not on another call in the same capture
def no_audio_while_muted(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    max_bps = float(params.get("max_audio_bps", 12000))
    summary = [s for s in records(bundle, "phase_summary") or [] if _is_muted(s)]
    muted_names = {str(s["phase"]).lower() for s in summary} | MUTED_PHASES
    marked = [p for p in records(bundle, "phases") or [] if str(p["phase"]).lower() in MUTED_PHASES]
    if not summary and not marked:
        return outcome("not_observable", "The session has no 'muted' phase marker, so audio while muted cannot be measured.")
    refs: list[dict[str, str]] = []
    problems = []
    measured = bool(summary)  # a muted phase's summary is its measurement: no audio_media is no audio
    for i, entry in enumerate(summary):
        pps, bps, metrics = _audio(entry)
        if bps > max_bps:
            problems.append(f"audio media at {bps / 1000:.1f} kbit/s")
            refs.append(ref("phase", f"muted{i}", f"{bps:.0f} bit/s, {pps:.1f} packets/s of audio while muted"))
        else:
            refs.append(ref("phase", f"muted{i}",
                            f"measured while muted: {bps:.0f} bit/s, {pps:.1f} packets/s of audio"))
        if metrics:
            problems.append(f"{plural(metrics, 'audio-level telemetry message')}")
            refs.append(ref("phase", f"muted{i}", f"{metrics} audio_metrics flows while muted"))
            flows = as_list(entry["audio_metrics_flows"])
            refs.extend(ref("data_flow", d) for d in flows[:10] if isinstance(d, str))
    for i, f in enumerate(records(bundle, "data_flows") or []):
        if f["category"] == "audio_metrics" and str(f["phase"]).lower() in muted_names:
            refs.append(ref("data_flow", record_id(f, f"d{i}"), f"{text(f['field_path'], 60)} to {text(f['party'], 60)}"))
            if not any("telemetry" in p for p in problems):
                problems.append("audio-level telemetry")
    if problems:
        return outcome("contradicted", "While muted, the client still sent " + " and ".join(dict.fromkeys(problems)) + ".", refs)
    if not measured:
        return outcome("not_observable", "A muted phase was marked but the capture has no audio measurements for it.")
    return outcome("supported", f"While muted, audio stayed at or below {max_bps / 1000:.1f} kbit/s (silence) and no "
                   "audio-level telemetry was sent.", refs)


def room_lock(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    """A scenario locked the room, then another participant tried to join: refused (and sent no media) or not."""
    locks = scenario_events(bundle, "lock")
    joins = scenario_events(bundle, "try_join")
    if not locks:
        return outcome("not_observable", "No scenario locked a room (a `lock` step followed by `try_join`, "
                       "recorded by confaudit run), so room locking was not tested.")
    first_lock: dict[str, float] = {}
    for lock in locks:
        key, ts = text(lock.get("session"), 200), number(lock.get("ts"))
        if ts is not None and (key not in first_lock or ts < first_lock[key]):
            first_lock[key] = ts

    def after_lock(join: Mapping[str, Any]) -> bool:
        key, ts = text(join.get("session"), 200), number(join.get("ts"))
        return key in first_lock and ts is not None and ts > first_lock[key]

    tried = [j for j in joins if after_lock(j)]
    if not tried:
        return outcome("not_observable", "The room was locked but no participant tried to join it afterwards.",
                       [ref("scenario_event", _event_id(lock), "room locked") for lock in locks[:5]])
    refs = [ref("scenario_event", _event_id(lock), f"room locked by {text(lock.get('participant'), 60)}")
            for lock in locks[:5]]
    admitted, leaked, unmeasured, refused = [], [], [], []
    for join in tried:
        who = text(join.get("participant"), 60)
        sent = join.get("media_bytes_sent")
        sent = sent if isinstance(sent, int) and not isinstance(sent, bool) else None
        media = "media not measured" if sent is None else f"{sent} media bytes sent"
        refs.append(ref("scenario_event", _event_id(join), f"try_join by {who}: {text(join.get('outcome'), 10)}, {media}"))
        if join.get("outcome") == "admitted":
            admitted.append(who)
        elif sent is None:
            unmeasured.append(who)
        elif sent > 0:
            leaked.append(f"{who} ({sent} bytes)")
        else:
            refused.append(who)
    if admitted:
        return outcome("contradicted", f"After the room was locked, {', '.join(admitted)} tried to join and "
                       f"{'was' if len(admitted) == 1 else 'were'} admitted.", refs)
    if leaked:
        return outcome("contradicted", f"After the room was locked, the join was shown as refused but media was still "
                       f"sent: {', '.join(leaked)}.", refs)
    if unmeasured:
        return outcome("inconclusive", f"After the room was locked, {', '.join(unmeasured)} was refused, but whether "
                       "media still flowed was not measured.", refs)
    return outcome("supported", f"After the room was locked, {plural(len(refused), 'join attempt')} "
                   f"({', '.join(refused)}) {'was' if len(refused) == 1 else 'were'} refused and sent no media.", refs)
