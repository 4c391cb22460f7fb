"""Check ``transport_encryption``: no plaintext HTTP/WebSocket/SIP signalling and no TLS below ``min_tls``."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from confaudit.rules.checks._common import all_of, balanced, sentence, flow_ref, listing, outcome, plural, record_id, records, ref, text, were
from confaudit.rules.model import Outcome

_NAMED = {"sslv2": (2, 0), "sslv3": (3, 0), "ssl2": (2, 0), "ssl3": (3, 0)}
# TLS 1.x is wire version (3, x+1).
_WIRE = {(2, 0): "SSL 2.0", (3, 0): "SSL 3.0", (3, 1): "TLS 1.0", (3, 2): "TLS 1.1", (3, 3): "TLS 1.2", (3, 4): "TLS 1.3"}
# Plain HTTP that carries no user data by design (signed revocation data).
_REVOCATION_PATH = re.compile(r"(^|/)(ocsp|crl)[^/]*(/|$)|\.crl$", re.I)


def tls_version(value: Any) -> tuple[int, int] | None:
    """Wire version (major, minor) from 'TLS 1.2', 'TLSv1.2', '1.2', 'SSLv3', 0x0303, '0x0303'; None if unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        major, minor = value >> 8, value & 0xFF
        return (major, minor) if (major, minor) in _WIRE else None
    if not isinstance(value, str):
        return None
    raw = value.strip().lower().replace(" ", "").replace("_", "")
    if raw.startswith("0x"):
        try:
            return tls_version(int(raw, 16))
        except ValueError:
            return None
    if raw in _NAMED:
        return _NAMED[raw]
    m = re.fullmatch(r"(ssl|tls|dtls)?v?(\d)(?:\.(\d))?", raw)
    if not m:
        return None
    proto, major, minor = m.group(1), int(m.group(2)), int(m.group(3) or 0)
    if proto == "ssl":
        return (major, 0) if (major, 0) in _WIRE else None
    if proto == "dtls":  # DTLS 1.0 ~ TLS 1.1, DTLS 1.2 ~ TLS 1.2, DTLS 1.3 ~ TLS 1.3
        return {(1, 0): (3, 2), (1, 2): (3, 3), (1, 3): (3, 4)}.get((major, minor))
    if major == 1 and 0 <= minor <= 3:
        return (3, minor + 1)
    return None


def version_name(wire: tuple[int, int]) -> str:
    return _WIRE.get(wire, f"{wire[0]}.{wire[1]}")


def _loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    h = host.strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _host_of(url: str) -> str:
    m = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)", url, re.I)
    return m.group(1) if m else ""


def _revocation(url: str, host: str) -> bool:
    path = "/" + url.split("?", 1)[0].split("://", 1)[-1].partition("/")[2]
    return bool(_REVOCATION_PATH.search(path)) or host.lower().startswith(("ocsp.", "crl.", "ocsp-", "crl-"))


def _plain_http(bundle: Mapping[str, Any]) -> tuple[list[dict[str, str]], int]:
    """Plaintext HTTP requests and ws:// WebSockets (excluding loopback and revocation checks)."""
    found: list[dict[str, str]] = []
    exempt = 0
    for i, item in enumerate(records(bundle, "http") or []):
        url = item.get("url") if isinstance(item.get("url"), str) else ""
        scheme = str(item.get("scheme") or url.split(":", 1)[0]).lower()
        if scheme != "http":
            continue
        host = item.get("host") or _host_of(url)
        if _loopback(host):
            continue
        if _revocation(url, str(host)):
            exempt += 1
            continue
        found.append(ref("http", record_id(item, f"h{i}"), f"plaintext HTTP to {text(host, 120)}"))
        found.extend(flow_ref(item))
    for i, item in enumerate(records(bundle, "websocket") or []):
        url = item.get("url") if isinstance(item.get("url"), str) else ""
        if url.lower().startswith("ws://") and not _loopback(_host_of(url)):
            found.append(ref("websocket", record_id(item, f"w{i}"), f"unencrypted WebSocket to {text(_host_of(url), 120)}"))
            found.extend(flow_ref(item))
    return found, exempt


def _plain_packet_http(bundle: Mapping[str, Any]) -> list[dict[str, str]]:
    """Cleartext HTTP requests (and ws:// upgrades) the packet analysis saw on the wire."""
    found = []
    for i, item in enumerate(records(bundle, "http_plain") or []):
        host = item.get("host") if isinstance(item.get("host"), str) else ""
        target = item.get("target") if isinstance(item.get("target"), str) else ""
        if _loopback(host.rsplit(":", 1)[0] if host.count(":") == 1 else host) or _revocation("http://" + host + target, host):
            continue
        if str(item.get("method") or "").upper() == "CONNECT":
            continue  # a client asking its HTTP proxy for a tunnel; what follows inside is judged on its own
        what = "unencrypted WebSocket upgrade" if item.get("websocket_upgrade") else "plaintext HTTP"
        found.append(ref("http_plain", record_id(item, f"hp{i}"), f"{what} {text(item.get('method'), 10)} to {text(host, 120) or 'a server'}"))
        found.extend(flow_ref(item))
    return found


def _plain_sip(bundle: Mapping[str, Any]) -> list[dict[str, str]]:
    """SIP the packet analysis could read: on the wire in clear text (SIP over TLS is never readable)."""
    found = []
    for i, item in enumerate(records(bundle, "sip") or []):
        if str(item.get("transport") or "").lower() in ("tls", "wss", "sips"):
            continue
        first = item.get("first_line") or item.get("method") or ""
        words = str(first).split()
        # Only the method or status code: SIP URIs in the first line name people.
        what = words[1] if words and words[0].upper().startswith("SIP/") and len(words) > 1 else (words[0] if words else "message")
        found.append(ref("sip", record_id(item, f"sip{i}"), f"plaintext SIP {text(what, 20)}"))
        found.extend(flow_ref(item))
    named = {r["id"] for r in found if r["kind"] == "flow"}
    for i, flow in enumerate(records(bundle, "flows") or []):
        fid = record_id(flow, f"f{i}")
        if str(flow.get("protocol") or "").lower() == "sip" and fid not in named:
            found.append(ref("sip", fid, "plaintext SIP flow"))
            found.append(ref("flow", fid))
    return found


def _plain_flows(bundle: Mapping[str, Any]) -> list[dict[str, str]]:
    """Flows labelled cleartext HTTP, for bundles without the finer ``http_plain`` section."""
    found: list[dict[str, str]] = []
    if records(bundle, "http_plain") is not None:
        return found
    for i, item in enumerate(records(bundle, "flows") or []):
        label = str(item.get("protocol") or item.get("app_protocol") or "").lower()
        if label in ("http", "http1", "http/1.1", "ws", "websocket-plain"):
            dst = item.get("dst") or item.get("server") or item.get("dst_ip") or ""
            if _loopback(dst if isinstance(dst, str) else ""):
                continue
            found.append(ref("flow", record_id(item, f"f{i}"), f"cleartext {label.upper()} flow"))
    return found


def _weak_tls(bundle: Mapping[str, Any], minimum: tuple[int, int]) -> tuple[list[dict[str, str]], int]:
    """TLS handshakes below ``minimum``; the analysis' ``weak`` flag decides only when no version is readable."""
    found: list[dict[str, str]] = []
    seen = 0
    for i, item in enumerate(records(bundle, "tls") or []):
        wire = None
        for key in ("version", "negotiated_version", "server_version"):
            wire = tls_version(item.get(key))
            if wire:
                break
        rid = record_id(item, f"tls{i}")
        name = text(item.get("sni") or item.get("server") or "", 120) or "a server without SNI"
        cipher = item.get("cipher")
        suffix = f", cipher {text(cipher, 10)}" if isinstance(cipher, str) and cipher else ""
        if wire is not None:
            seen += 1
            if wire < minimum:
                found.append(ref("tls", rid, f"{version_name(wire)} negotiated with {name}{suffix}"))
                found.extend(flow_ref(item))
        elif item.get("weak") is True:
            found.append(ref("tls", rid, f"a deprecated TLS version negotiated with {name}{suffix}"))
            found.extend(flow_ref(item))
        if item.get("weak_cipher") is True and not (wire is not None and wire < minimum):
            cipher_name = text(item.get("cipher_name") or cipher or "?", 80)
            found.append(ref("tls", rid, f"{version_name(wire) if wire else 'TLS'} negotiated with {name}, weak cipher {cipher_name}"))
            found.extend(flow_ref(item))
    return found, seen


def transport_encryption(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    minimum = tls_version(str(params.get("min_tls", "1.2"))) or (3, 3)
    plain, exempt = _plain_http(bundle)
    plain += _plain_packet_http(bundle) + _plain_sip(bundle) + _plain_flows(bundle)
    weak, tls_seen = _weak_tls(bundle, minimum)
    quic = records(bundle, "quic") or []
    https = [h for h in records(bundle, "http") or [] if str(h.get("scheme") or h.get("url", "")).lower().startswith("https")]
    wss = [w for w in records(bundle, "websocket") or [] if str(w.get("url", "")).lower().startswith("wss://")]
    if plain or weak:
        parts: list[str] = []
        if plain:
            kinds = {"http": "plaintext HTTP request", "http_plain": "plaintext HTTP request",
                     "websocket": "unencrypted WebSocket", "sip": "plaintext SIP message"}
            counts: dict[str, int] = {}
            for r in plain:
                label = kinds.get(r["kind"]) or ("cleartext HTTP flow" if r["detail"].startswith("cleartext") else None)
                if label:
                    counts[label] = counts.get(label, 0) + 1
            parts.extend(plural(n, label) for label, n in counts.items())
        if weak:
            versions = sorted({r["detail"].split(" negotiated", 1)[0] for r in weak if r["kind"] == "tls"})
            hosts = sorted({r["detail"].split(" negotiated with ", 1)[-1].split(", cipher", 1)[0] for r in weak if r["kind"] == "tls"})
            count = len([r for r in weak if r["kind"] == "tls"])
            parts.append(f"{plural(count, 'TLS handshake')} below {version_name(minimum)} ({listing(versions)} with "
                         f"{listing(hosts, 3)})")
        return outcome("contradicted", f"The capture shows {listing(parts, width=400)}.", balanced(plain + weak))
    encrypted = tls_seen + len(quic) + len(https) + len(wss)
    if encrypted == 0:
        if any(records(bundle, k) for k in ("tls", "http", "websocket")):
            return outcome("not_observable", "No connection with a readable TLS version or a non-loopback HTTP scheme was seen.")
        return outcome("not_observable", "The evidence holds no TLS, QUIC, HTTP or WebSocket traffic to judge.")
    note = f" ({plural(exempt, 'certificate revocation check')} over plain HTTP ignored)" if exempt else ""
    refs = [r for i, t in enumerate((records(bundle, "tls") or [])[:10])
            for r in [ref("tls", record_id(t, f"tls{i}"), f"{text(t.get('version'), 20)} {text(t.get('sni'), 100)}".strip())] + flow_ref(t)]
    return outcome("supported", f"{sentence(all_of(encrypted, 'observed TLS, QUIC, HTTPS or WSS exchange'))} "
                   f"{were(encrypted)} at {version_name(minimum)} or newer, with no plaintext HTTP, WebSocket or SIP{note}.", refs)
