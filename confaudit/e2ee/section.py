"""Captures + key logs -> the bundle's ``e2ee`` object (sessions, streams, SDES, summary).

The decryption modules are imported only when there is a key to use: the common no-key path
(``nokeys``) needs none of them.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from confaudit.e2ee.enums import DECIDED_TOPOLOGIES, MEDIA_KINDS, member, one_of
from confaudit.e2ee.keylog import KeyLog, merge_secrets, parse_keylog_text
from confaudit.e2ee.sdes import find_sdes

if TYPE_CHECKING:
    from confaudit.canary.spec import SpecSource
    from confaudit.e2ee.enums import Conclusion, Inner, MediaKind, StreamKind, Topology
    from confaudit.e2ee.handshake import DtlsSession
    from confaudit.e2ee.scan import CaptureScan, FlowKey, StreamCounts
    from confaudit.evidence_model import (E2eeAudioEvidence, E2eeCanary, E2eeCanarySource, E2eeKeylog, E2eeSdes,
                                          E2eeSession, E2eeSrtcp, E2eeStream, E2eeSummary, E2eeTest)


def empty_e2ee(keylogs: list[KeyLog], sdes: list[E2eeSdes]) -> E2eeTest:
    e2ee: E2eeTest = {"keylogs": [_keylog_entry(k, 0) for k in keylogs], "sessions": [], "streams": [], "srtcp": [],
                      "sdes": sdes, "summary": _summary([], sdes, []), "warnings": []}
    return e2ee


def _keylog_entry(log: KeyLog, matched: int) -> E2eeKeylog:
    entry: E2eeKeylog = {"path": log.source, "sha256": log.sha256, "lines": log.lines, "kinds": log.kinds,
                         "dtls_sessions_matched": matched}
    return entry


def _endpoint(ep: tuple[str, int]) -> str:
    host, port = ep
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _flow_ids(bundle: dict[str, Any]) -> dict[tuple[tuple[str, int], tuple[str, int]], str]:
    out: dict[tuple[tuple[str, int], tuple[str, int]], str] = {}
    flows = bundle.get("flows")
    for flow in flows if isinstance(flows, list) else []:
        if not isinstance(flow, dict):
            continue
        try:
            a = (str(flow["src"]), int(flow["sport"]))
            b = (str(flow["dst"]), int(flow["dport"]))
        except (KeyError, TypeError, ValueError):
            continue
        if str(flow.get("transport", "udp")) == "udp":
            out.setdefault((a, b) if a <= b else (b, a), str(flow.get("id")))
    return out


def _media_index(bundle: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    out: dict[tuple, dict[str, Any]] = {}
    streams = bundle.get("media_streams")
    for ms in streams if isinstance(streams, list) else []:
        if not isinstance(ms, dict) or "flow" not in ms:
            continue
        ssrc = ms.get("ssrc")
        if isinstance(ssrc, str):  # the packet analysis writes SSRCs as "0x%08x"
            try:
                ssrc = int(ssrc, 16 if ssrc.lower().startswith("0x") else 10)
            except ValueError:
                continue
        if isinstance(ssrc, int) and not isinstance(ssrc, bool):
            out.setdefault((str(ms["flow"]), ssrc), ms)
            if isinstance(ms.get("sender"), str):  # the same SSRC can appear in both directions
                out.setdefault((str(ms["flow"]), ssrc, ms["sender"]), ms)
    return out


def _paths(bundle: dict[str, Any]) -> tuple[dict[str, Topology], Topology]:
    """Per-flow path (a server or relay endpoint on the flow) and the capture-wide topology as fallback."""
    raw_path = bundle.get("media_path")
    media_path = raw_path if isinstance(raw_path, dict) else {}
    overall = one_of(media_path.get("topology"), DECIDED_TOPOLOGIES, "unknown")
    per_flow: dict[str, Topology] = {}
    endpoints = media_path.get("endpoints")
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(endpoint, dict):
            continue
        role: Literal["server", "relay"] | None = member(endpoint.get("role"), ("server", "relay"))
        if role is None:
            continue
        flow_ids = endpoint.get("flows")
        for flow_id in flow_ids if isinstance(flow_ids, list) else []:
            if per_flow.get(str(flow_id)) != "server":
                per_flow[str(flow_id)] = role
    return per_flow, overall


def _dtls_ports(bundle: dict[str, Any]) -> frozenset[int] | None:
    """Ports of the UDP flows the packet analysis saw DTLS (or TURN-wrapped traffic) on; None if unknown."""
    flows = bundle.get("flows")
    if not isinstance(flows, list) or not flows:
        return None
    ports: set[int] = set()
    for flow in flows:
        labels = flow.get("labels") if isinstance(flow, dict) else None
        if flow.get("transport") == "udp" and isinstance(labels, dict) and (labels.get("dtls") or labels.get("turn")):
            for key in ("sport", "dport"):
                if isinstance(flow.get(key), int):
                    ports.add(flow[key])
    return frozenset(ports)


def _scan_captures(captures: list[Path], keylogs: list[KeyLog],
                   bundle: dict[str, Any] | None = None) -> tuple[CaptureScan, list[KeyLog], bool, list[str]]:
    """Two passes when a capture embeds key logs (DSB): collect secrets first, then decrypt.

    Without any secret, only flows carrying DTLS can yield sessions (reported ``keys: missing``), so
    the first pass reads just those; key logs embedded in the capture trigger a full second pass.
    """
    from confaudit.e2ee.packets import ReadStatus, read_datagrams
    from confaudit.e2ee.scan import MAX_STREAMS, CaptureScan

    statuses = []
    embedded: list[KeyLog] = []
    have_secrets = any(log.secrets for log in keylogs)
    ports = None if have_secrets or bundle is None else _dtls_ports(bundle)
    scan = CaptureScan(merge_secrets(keylogs))
    for index, path in enumerate(captures):
        status = ReadStatus()
        for dg in read_datagrams(path, index, status, ports):
            scan.feed(index, dg)
        statuses.append(status)
        for n, text in enumerate(status.dsb_keylogs or []):
            embedded.append(parse_keylog_text(text, f"{path}#dsb{n}", text.encode("ascii", "replace"), strict=False))
    if embedded and any(log.lines for log in embedded):
        scan = CaptureScan(merge_secrets(keylogs + embedded))
        for index, path in enumerate(captures):
            for dg in read_datagrams(path, index, ReadStatus()):
                scan.feed(index, dg)
    problems = [f"e2ee: {p}: {s.problem}" for p, s in zip(captures, statuses) if s.problem]
    complete = all(s.complete for s in statuses)
    if scan.streams_dropped:
        problems.append(f"e2ee: {scan.streams_dropped} packets of SSRCs beyond the first {MAX_STREAMS} were not analysed")
        complete = False
    return scan, keylogs + embedded, complete, problems


def build_e2ee(bundle: dict[str, Any], captures: list[Path], keylogs: list[KeyLog],
               canaries: Sequence[SpecSource] = ()) -> tuple[E2eeTest, bool]:
    """The ``e2ee`` object and whether every capture was read completely (``canaries``: looked for in decrypted media)."""
    from confaudit.e2ee.nokeys import bundle_has_no_keys, sessions_and_streams

    if bundle_has_no_keys(bundle, keylogs):
        per_flow_path, overall_path = _paths(bundle)
        sessions, streams = sessions_and_streams(bundle, lambda f: per_flow_path.get(str(f), overall_path))
        sdes = find_sdes(bundle)
        unkeyed: E2eeTest = {"keylogs": [_keylog_entry(log, 0) for log in keylogs], "sessions": sessions,
                             "streams": streams, "srtcp": [], "sdes": sdes, "summary": _summary(streams, sdes, sessions),
                             "warnings": []}
        if canaries:  # absent otherwise: bundles without canaries are unchanged
            unkeyed["canaries"] = _canaries(canaries)
        return unkeyed, True
    from confaudit.e2ee.exporter import PROFILES

    scan, all_logs, complete, problems = _scan_captures(captures, keylogs, bundle)
    flow_ids = _flow_ids(bundle)
    media = _media_index(bundle)
    per_flow_path, overall_path = _paths(bundle)

    sessions_out: list[E2eeSession] = []
    session_ids: dict[int, int] = {}
    for flow, hs in sorted(scan.handshakes.items()):
        for session in hs.sessions:
            if session.server_random is None and not session.profiles_offered:
                continue
            labels = scan.secrets.get(session.client_random, {})
            found = ("EXPORTER_SECRET" in labels) if session.version == "DTLS 1.3" else ("CLIENT_RANDOM" in labels)
            profile = session.profile or scan.profiles_used.get(id(session))
            session_ids[id(session)] = len(sessions_out)
            entry: E2eeSession = {
                "flow": flow_ids.get(flow), "client": _endpoint(session.client),
                "server": _endpoint(flow[1] if flow[0] == session.client else flow[0]),
                "version": session.version, "client_random": session.client_random.hex(),
                "profile": PROFILES[profile].name if profile in PROFILES else (f"0x{profile:04x}" if profile else None),
                "profile_source": "server_hello" if session.profile else ("authenticated_trial" if profile else None),
                "profiles_offered": [f"0x{c:04x}" for c in session.profiles_offered],
                "keys": "found" if found else "missing",
                "note": scan.session_notes.get(id(session)) or _session_note(session, found),
            }
            sessions_out.append(entry)

    streams_out: list[E2eeStream] = []
    # A stream keyed only through a shared endpoint is reported once it authenticates: unrelated flows
    # that happen to share a server port must not show up as authentication failures.
    kept = sorted((s for s in scan.streams.values() if s.keyed_via is None or s.decrypted), key=lambda s: s.first_frame)
    joined = _joined_samples(kept)
    for n, stream in enumerate(kept):
        flow_id = flow_ids.get(stream.flow)
        path = per_flow_path.get(flow_id or "", overall_path)
        streams_out.append(_stream_entry(n, stream, flow_ids, media, path, session_ids, canaries, joined.get(n)))

    srtcp: list[E2eeSrtcp] = [
        {"flow": flow_ids.get(flow), "sender": _endpoint(sender),
         "session": session_ids.get(id(c.session)) if c.session is not None else None,
         "packets": c.packets, "decrypted": c.decrypted, "auth_failed": c.auth_failed, "duplicates": c.duplicates}
        for (flow, sender), c in sorted(scan.control.items()) if flow in scan.handshakes or c.decrypted]
    matched = {}
    for log in all_logs:
        matched[log.source] = sum(1 for hs in scan.handshakes.values() for s in hs.sessions
                                  if s.client_random in log.secrets)
    sdes = find_sdes(bundle)
    e2ee: E2eeTest = {"keylogs": [_keylog_entry(log, matched[log.source]) for log in all_logs],
                      "sessions": sessions_out, "streams": streams_out, "srtcp": srtcp, "sdes": sdes,
                      "summary": _summary(streams_out, sdes, sessions_out), "warnings": problems}
    if canaries:  # absent otherwise: bundles without canaries are unchanged
        e2ee["canaries"] = _canaries(canaries)
    return e2ee, complete


def _canaries(canaries: Sequence[SpecSource]) -> list[E2eeCanarySource]:
    """``e2ee.canaries``: the canary specs given."""
    return [{"path": str(c.path), "sha256": c.sha256, "seed": c.spec.seed} for c in canaries]


def _joined_samples(streams: list[StreamCounts]) -> dict[int, tuple[list[Any], list[int]]]:
    """One RTP stream split over flows by an ICE candidate-pair change (same DTLS session, same SSRC) is judged on
    its packets from all of them: a video keyframe sent before the change starts the chain decoded after it.
    Index in ``streams`` -> (the joined sample in capture order, indexes of the other parts)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for n, stream in enumerate(streams):
        if stream.session is not None and stream.decrypted:
            groups.setdefault((id(stream.session), stream.ssrc), []).append(n)
    out: dict[int, tuple[list[Any], list[int]]] = {}
    for members in groups.values():
        if len(members) > 1:
            sample = [p for n in members for p in streams[n].sample]  # members are in first-packet order
            for n in members:
                out[n] = (sample, [m for m in members if m != n])
    return out


def _stream_entry(n: int, stream: StreamCounts, flow_ids: dict[FlowKey, str], media: dict[tuple, dict[str, Any]],
                  path: Topology, session_ids: dict[int, int], canaries: Sequence[SpecSource] = (),
                  joined: tuple[list[Any], list[int]] | None = None) -> E2eeStream:
    flow_id = flow_ids.get(stream.flow)
    plain_sender = f"{stream.sender[0]}:{stream.sender[1]}"  # the packet analysis does not bracket IPv6
    ms = (media.get((flow_id, stream.ssrc, _endpoint(stream.sender))) or media.get((flow_id, stream.ssrc, plain_sender))
          or media.get((flow_id, stream.ssrc))) if flow_id else None
    kind = member((ms or {}).get("kind"), MEDIA_KINDS)
    codec_hint = (ms or {}).get("codec") if isinstance((ms or {}).get("codec"), str) else None
    reasons: list[str] = []
    inner: Inner
    codec: str | None
    audio_evidence: E2eeAudioEvidence | None = None
    canary: E2eeCanary | None = None
    if stream.keyed_via is not None:
        reasons.append(f"keyed by the DTLS session of flow {flow_ids.get(stream.keyed_via) or _flow_text(stream.keyed_via)}, "
                       "which shares an endpoint with this flow (ICE candidate-pair change)")
    if stream.decrypted == 0:
        inner, codec = "not_observable", None
        if stream.session is None or stream.packets == stream.duplicates:
            reasons.append("no DTLS session keys apply to this stream")
        elif stream.auth_failed:
            reasons.append(f"{stream.auth_failed} packets failed SRTP authentication with the logged keys: "
                           "wrong or missing keys for this sender")
        else:
            reasons.append("no key-log secret for this stream's DTLS session")
    else:
        from confaudit.e2ee.inner import classify

        sample = stream.sample
        if joined is not None:
            sample = joined[0]
            reasons.append(f"judged with its packets on {', '.join(f'e{m + 1}' for m in joined[1])} (the same SSRC of "
                           "the same DTLS session on another flow: an ICE candidate-pair change)")
        verdict = classify(sample, kind, codec_hint)
        inner, codec = verdict.inner, verdict.codec
        reasons.extend(verdict.reasons)
        if verdict.audio_evidence is not None:
            audio_evidence = verdict.audio_evidence.as_dict()
        if canaries:
            from confaudit.e2ee.canary import canary_verdict

            inner, codec, canary = canary_verdict(sample, inner, codec, codec_hint, kind, verdict.audio_evidence,
                                                  canaries, reasons)
        if stream.auth_failed:
            reasons.append(f"{stream.auth_failed} packets failed SRTP authentication (counted, not classified)")
    main_pt = max(stream.payload_types, key=lambda pt: stream.payload_types[pt]) if stream.payload_types else None
    entry: E2eeStream = {
        "id": f"e{n + 1}", "flow": flow_id, "media_stream": (ms or {}).get("id"),
        "sender": _endpoint(stream.sender), "ssrc": stream.ssrc, "payload_type": main_pt,
        "kind": kind or _kind_from_codec(codec), "codec": codec or codec_hint,
        "session": session_ids.get(id(stream.session)) if stream.session is not None else None,
        "packets": stream.packets, "decrypted": stream.decrypted, "auth_failed": stream.auth_failed,
        "duplicates": stream.duplicates, "replay_rejected": stream.replay_rejected,
        "first_packet": {"input": stream.first_frame[0], "frame": stream.first_frame[1]},
        "inner": inner, "reasons": reasons, "path": path, "audio_evidence": audio_evidence,
        "canary": canary,
    }
    return entry


def _session_note(session: DtlsSession, found: bool) -> str | None:
    if session.server_random is None:
        return "ServerHello not in the capture: keys cannot be derived"
    if not found:
        label = "EXPORTER_SECRET" if session.version == "DTLS 1.3" else "CLIENT_RANDOM"
        return f"no {label} line for this client random in any key log"
    return None


def _flow_text(flow: tuple[tuple[str, int], tuple[str, int]]) -> str:
    return f"{_endpoint(flow[0])}-{_endpoint(flow[1])}"


_CODEC_KINDS: dict[str, MediaKind] = {"opus": "audio", "vp8": "video", "vp9": "video", "h264": "video"}


def _kind_from_codec(codec: str | None) -> StreamKind:
    return _CODEC_KINDS.get(codec or "", "unknown")


def _summary(streams: list[E2eeStream], sdes: list[E2eeSdes], sessions: list[E2eeSession]) -> E2eeSummary:
    counts = {k: sum(1 for s in streams if s["inner"] == k) for k in ("codec", "encrypted", "undetermined", "not_observable")}
    paths = sorted({s["path"] for s in streams if s["inner"] in ("codec", "encrypted")})
    conclusion: Conclusion
    if counts["codec"] and not counts["encrypted"]:
        conclusion = "media_readable_at_transport_end"
    elif counts["encrypted"] and not counts["codec"]:
        conclusion = "inner_encryption_observed"
    elif counts["codec"] and counts["encrypted"]:
        conclusion = "mixed"
    else:
        conclusion = "not_observable"
    summary: E2eeSummary = {
        "conclusion": conclusion, "streams": len(streams), "inner_codec": counts["codec"],
        "inner_encrypted": counts["encrypted"], "inner_undetermined": counts["undetermined"],
        "not_observable": counts["not_observable"], "paths": paths,
        "sessions": len(sessions), "sessions_with_keys": sum(1 for s in sessions if s["keys"] == "found"),
        "sdes_keys_in_signalling": bool(sdes),
    }
    return summary
