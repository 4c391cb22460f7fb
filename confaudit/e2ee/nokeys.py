"""The ``e2ee`` object when no key is available at all: nothing can be decrypted, so nothing is re-read.

Sessions come from the packet analysis' ``dtls[]`` and streams from its ``media_streams[]`` on those
flows, every one ``not_observable``. Re-scanning a large capture for this would only repeat what the
analysis already counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confaudit.e2ee.enums import DTLS_VERSIONS, MEDIA_KINDS, member, one_of

if TYPE_CHECKING:
    from confaudit.e2ee.enums import Topology
    from confaudit.evidence_model import E2eeSession, E2eeStream


def bundle_has_no_keys(bundle: dict[str, Any], keylogs: list[Any]) -> bool:
    """True when no key log has a secret and no capture input embeds one (pcapng DSB)."""
    if any(getattr(log, "secrets", None) for log in keylogs):
        return False
    raw_inputs = bundle.get("inputs")
    inputs = raw_inputs if isinstance(raw_inputs, list) else []
    if any(isinstance(i, dict) and i.get("decryption_secrets_blocks") for i in inputs):
        return False
    flows = bundle.get("flows")
    return isinstance(flows, list) and bool(flows) and isinstance(bundle.get("dtls"), list)


def _ref_to_frame(ref: Any) -> dict[str, int]:
    if isinstance(ref, dict) and isinstance(ref.get("id"), str) and ":" in ref["id"]:
        index, frame = ref["id"].split(":", 1)
        if all(part.isascii() and part.isdigit() and len(part) <= 12 for part in (index, frame)):
            return {"input": int(index), "frame": int(frame)}
    if isinstance(ref, dict) and isinstance(ref.get("frame"), int):
        return {"input": int(ref.get("input", 0)), "frame": ref["frame"]}
    return {"input": 0, "frame": 0}


def _endpoint(host: Any, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _bracketed(sender: Any) -> Any:
    if not isinstance(sender, str) or ":" not in sender:
        return sender
    host, _, port = sender.rpartition(":")
    return _endpoint(host.strip("[]"), port)


def _ssrc(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16 if value.lower().startswith("0x") else 10)
        except ValueError:
            return None
    return None


def sessions_and_streams(bundle: dict[str, Any],
                         path_of: Callable[[Any], Topology]) -> tuple[list[E2eeSession], list[E2eeStream]]:
    """(sessions, streams) built from the analysis; ``path_of(flow_id)`` gives the media path of a flow."""
    flows = {f.get("id"): f for f in bundle.get("flows", []) if isinstance(f, dict)}
    sessions: list[E2eeSession] = []
    session_of_flow: dict[str, int] = {}
    for record in bundle.get("dtls", []):
        if not isinstance(record, dict) or not isinstance(record.get("client_random"), str):
            continue
        flow = flows.get(record.get("flow"), {})
        if record.get("server_random") is None and not record.get("srtp_profiles_offered"):
            continue
        label = "EXPORTER_SECRET" if record.get("version") == "DTLS 1.3" else "CLIENT_RANDOM"
        note = ("ServerHello not in the capture: keys cannot be derived" if record.get("server_random") is None
                else f"key log has no {label} line for this DTLS session")
        session_of_flow.setdefault(str(record.get("flow")), len(sessions))
        sessions.append({
            "flow": record.get("flow"),
            "client": _endpoint(flow.get("src"), flow.get("sport")), "server": _endpoint(flow.get("dst"), flow.get("dport")),
            "version": member(record.get("version"), DTLS_VERSIONS),  # None when the handshake did not show it
            "client_random": record["client_random"],
            "profile": record.get("srtp_profile_name") or record.get("srtp_profile"),
            "profile_source": "server_hello" if record.get("srtp_profile") else None,
            "profiles_offered": list(record.get("srtp_profiles_offered") or []),
            "keys": "missing", "note": note,
        })
    streams: list[E2eeStream] = []
    for ms in bundle.get("media_streams", []):
        if not isinstance(ms, dict) or str(ms.get("flow")) not in session_of_flow:
            continue
        ssrc = _ssrc(ms.get("ssrc"))
        if ssrc is None:
            continue
        raw_sequence = ms.get("sequence")
        sequence = raw_sequence if isinstance(raw_sequence, dict) else {}
        streams.append({
            "id": f"e{len(streams) + 1}", "flow": ms.get("flow"), "media_stream": ms.get("id"),
            "sender": _bracketed(ms.get("sender")), "ssrc": ssrc, "payload_type": ms.get("payload_type"),
            "kind": one_of(ms.get("kind"), MEDIA_KINDS, "unknown"),
            "codec": ms.get("codec") if isinstance(ms.get("codec"), str) else None,
            "session": session_of_flow[str(ms.get("flow"))],
            "packets": int(ms.get("packets") or 0), "decrypted": 0, "auth_failed": 0,
            "duplicates": int(sequence.get("duplicates") or 0), "replay_rejected": 0,
            "first_packet": _ref_to_frame(ms.get("first_packet")),
            "inner": "not_observable", "reasons": ["no key-log secret for this stream's DTLS session"],
            "path": path_of(ms.get("flow")),
        })
    return sessions, streams
