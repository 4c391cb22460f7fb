"""Check ``transport_encryption``: no plaintext HTTP/WebSocket/SIP signalling and no TLS below ``min_tls``.

Only traffic attributable to the vendor is judged (its own servers, the call, and third parties its pages
or app asked for; ``scope: device`` judges everything). Weak or plaintext traffic of the device's background
(OS and browser services) never contradicts the claim and is listed as not judged; on unattributed traffic
it makes the verdict inconclusive when nothing attributable to the vendor was weak.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confaudit.rules.checks._common import (MAX_REFS, as_str, all_of, balanced, flow_ref, judged, listing, outcome, plural, record_id, records,
                                            ref, role, role_reason, scope_of, scope_words, sentence, text, were)
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


@dataclass(frozen=True)
class Problem:
    """One plaintext or weak exchange and whose traffic it is."""

    role: str
    """Attribution role of the record (vendor, third_party_of_vendor, background, unknown)."""
    host: str
    """Server name or address, for explanations."""
    refs: tuple[dict[str, str], ...]
    """The record reference first, then its flow/packet references."""
    why: str = ""
    """First attribution reason (shown when the exchange is not judged)."""

    def as_ignored(self) -> dict[str, str]:
        primary = self.refs[0]
        return ref(primary["kind"], primary["id"], f"not judged ({self.role}): {primary['detail']}; {self.why}".rstrip("; "))


def _problem(item: Mapping[str, Any], item_role: str, host: str, primary: dict[str, str]) -> Problem:
    return Problem(item_role, text(host, 120) or "a server", (primary, *flow_ref(item)), role_reason(item))


def _flow_roles(bundle: Mapping[str, Any]) -> dict[str, str]:
    return {str(f["id"]): role(f) for f in records(bundle, "flows") or [] if isinstance(f["id"], str)}


def _plain_http(bundle: Mapping[str, Any]) -> tuple[list[Problem], int]:
    """Plaintext HTTP requests and ws:// WebSockets (excluding loopback and revocation checks)."""
    found: list[Problem] = []
    exempt = 0
    for i, item in enumerate(records(bundle, "http") or []):
        url = as_str(item["url"])
        scheme = str(item["scheme"] or url.split(":", 1)[0]).lower()
        if scheme != "http":
            continue
        host = item["host"] or _host_of(url)
        if _loopback(host):
            continue
        if _revocation(url, str(host)):
            exempt += 1
            continue
        found.append(_problem(item, role(item), str(host), ref("http", record_id(item, f"h{i}"), f"plaintext HTTP to {text(host, 120)}")))
    for i, message in enumerate(records(bundle, "websocket") or []):
        url = as_str(message["url"])
        if url.lower().startswith("ws://") and not _loopback(_host_of(url)):
            found.append(_problem(message, role(message), _host_of(url), ref("websocket", record_id(message, f"w{i}"),
                                                                       f"unencrypted WebSocket to {text(_host_of(url), 120)}")))
    return found, exempt


def _plain_packet_http(bundle: Mapping[str, Any]) -> list[Problem]:
    """Cleartext HTTP requests (and ws:// upgrades) the packet analysis saw on the wire."""
    found = []
    for i, item in enumerate(records(bundle, "http_plain") or []):
        host = as_str(item.get("host"))
        target = as_str(item["target"])
        if _loopback(host.rsplit(":", 1)[0] if host.count(":") == 1 else host) or _revocation("http://" + host + target, host):
            continue
        if str(item["method"] or "").upper() == "CONNECT":
            continue  # a client asking its HTTP proxy for a tunnel; what follows inside is judged on its own
        what = "unencrypted WebSocket upgrade" if item.get("websocket_upgrade") else "plaintext HTTP"
        found.append(_problem(item, role(item), host, ref("http_plain", f"hp{i}",
                                                          f"{what} {text(item['method'], 10)} to {text(host, 120) or 'a server'}")))
    return found


def _plain_sip(bundle: Mapping[str, Any]) -> list[Problem]:
    """SIP the packet analysis could read: on the wire in clear text (SIP over TLS is never readable)."""
    found = []
    flow_roles = _flow_roles(bundle)
    named = set()
    for i, item in enumerate(records(bundle, "sip") or []):
        words = str(item["first_line"] or "").split()
        # Only the method or status code: SIP URIs in the first line name people.
        what = words[1] if words and words[0].upper().startswith("SIP/") and len(words) > 1 else (words[0] if words else "message")
        flow = str(item["flow"] or "")
        named.add(flow)
        found.append(_problem(item, flow_roles.get(flow, "unknown"), f"flow {flow}" if flow else "",
                              ref("sip", f"sip{i}", f"plaintext SIP {text(what, 20)}")))
    for i, flow_record in enumerate(records(bundle, "flows") or []):
        fid = record_id(flow_record, f"f{i}")
        if str(flow_record["protocol"] or "").lower() == "sip" and fid not in named:
            found.append(Problem(role(flow_record), f"flow {fid}", (ref("sip", fid, "plaintext SIP flow"), ref("flow", fid))))
    return found


def _plain_flows(bundle: Mapping[str, Any]) -> list[Problem]:
    """Flows labelled cleartext HTTP, for bundles without the finer ``http_plain`` section."""
    found: list[Problem] = []
    if records(bundle, "http_plain") is not None:
        return found
    for i, item in enumerate(records(bundle, "flows") or []):
        label = str(item["protocol"] or "").lower()
        if label in ("http", "http1", "http/1.1", "ws", "websocket-plain"):
            dst = item["dst"] or ""
            if _loopback(dst if isinstance(dst, str) else ""):
                continue
            found.append(Problem(role(item), text(dst, 120), (ref("flow", record_id(item, f"f{i}"), f"cleartext {label.upper()} flow"),)))
    return found


def plaintext_web(bundle: Mapping[str, Any]) -> tuple[list[Problem], int]:
    """Every plaintext HTTP request, ws:// WebSocket and cleartext HTTP flow as ``transport_encryption`` counts
    them (loopback, proxy CONNECT and OCSP/CRL fetches excluded), whoever's traffic it is; and the exempted count."""
    web, exempt = _plain_http(bundle)
    return web + _plain_packet_http(bundle) + _plain_flows(bundle), exempt


def _weak_tls(bundle: Mapping[str, Any], minimum: tuple[int, int]) -> tuple[list[Problem], list[tuple[str, list[dict[str, str]]]]]:
    """TLS handshakes below ``minimum`` (the analysis' ``weak`` flag decides only when no version is readable),
    and (role, references) of every handshake with a readable version."""
    found: list[Problem] = []
    seen: list[tuple[str, list[dict[str, str]]]] = []
    for i, item in enumerate(records(bundle, "tls") or []):
        wire = tls_version(item["version"])
        rid = f"tls{i}"
        name = text(item["sni"] or "", 120) or "a server without SNI"
        cipher = item["cipher"]
        suffix = f", cipher {text(cipher, 10)}" if isinstance(cipher, str) and cipher else ""
        item_role = role(item)
        if wire is not None:
            seen.append((item_role, [ref("tls", rid, f"{version_name(wire)} {text(item['sni'], 100)}".strip()), *flow_ref(item)]))
            if wire < minimum:
                found.append(_problem(item, item_role, name, ref("tls", rid, f"{version_name(wire)} negotiated with {name}{suffix}")))
        elif item["weak"] is True:
            found.append(_problem(item, item_role, name, ref("tls", rid, f"a deprecated TLS version negotiated with {name}{suffix}")))
        if item.get("weak_cipher") is True and not (wire is not None and wire < minimum):
            cipher_name = text(item.get("cipher_name") or cipher or "?", 80)
            found.append(_problem(item, item_role, name, ref("tls", rid, f"{version_name(wire) if wire else 'TLS'} negotiated with "
                                                                          f"{name}, weak cipher {cipher_name}")))
    return found, seen


def _described(problems: list[Problem], minimum: tuple[int, int]) -> str:
    """'2 plaintext HTTP requests and 3 TLS handshakes below TLS 1.2 (TLS 1.0 with a.example and b.example)'."""
    kinds = {"http": "plaintext HTTP request", "http_plain": "plaintext HTTP request",
             "websocket": "unencrypted WebSocket", "sip": "plaintext SIP message"}
    counts: dict[str, int] = {}
    weak = [p.refs[0] for p in problems if p.refs[0]["kind"] == "tls"]
    for p in problems:
        primary = p.refs[0]
        label = kinds.get(primary["kind"]) or ("cleartext HTTP flow" if primary["detail"].startswith("cleartext") else None)
        if label:
            counts[label] = counts.get(label, 0) + 1
    parts = [plural(n, label) for label, n in counts.items()]
    if weak:
        versions = sorted({r["detail"].split(" negotiated", 1)[0] for r in weak})
        hosts = sorted({r["detail"].split(" negotiated with ", 1)[-1].split(", cipher", 1)[0] for r in weak})
        parts.append(f"{plural(len(weak), 'TLS handshake')} below {version_name(minimum)} ({listing(versions)} with {listing(hosts, 3)})")
    return listing(parts, width=400)


def _not_judged(problems: list[Problem], what: str) -> str:
    if not problems:
        return ""
    hosts = sorted({p.host for p in problems})
    return f" {sentence(plural(len(problems), 'weak or plaintext exchange'))} {what} ({listing(hosts, 3)}) {were(len(problems))} not judged."


def _with_not_judged(main: Sequence[Mapping[str, str]], extra: Sequence[Mapping[str, str]], room: int = 5) -> list[Mapping[str, str]]:
    """Judged references first, but keep up to ``room`` not-judged ones inside the capped list."""
    keep = MAX_REFS - min(len(extra), room)
    return [*main[:keep], *extra[:room], *main[keep:], *extra[room:]]


def transport_encryption(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    minimum = tls_version(str(params.get("min_tls", "1.2"))) or (3, 3)
    scope = scope_of(params)
    plain, exempt = _plain_http(bundle)
    plain += _plain_packet_http(bundle) + _plain_sip(bundle) + _plain_flows(bundle)
    weak, tls_seen = _weak_tls(bundle, minimum)
    problems = plain + weak
    counted = [p for p in problems if judged(p.role, scope)]
    unknown = [p for p in problems if not judged(p.role, scope) and p.role == "unknown"]
    ignored = [p for p in problems if not judged(p.role, scope) and p.role == "background"]
    background = _not_judged(ignored, "with the device's background services")
    ignored_refs = [p.as_ignored() for p in ignored]
    if counted:
        third = sum(1 for p in counted if p.role == "third_party_of_vendor")
        whose = f", {third} of them to third parties the vendor's pages or app asked for" if third else ""
        later = _not_judged(unknown, "on traffic not attributable to the vendor") + background
        return outcome("contradicted", f"The capture shows {_described(counted, minimum)} {scope_words(scope)}{whose}.{later}",
                       _with_not_judged(balanced([r for p in counted for r in p.refs]),
                                        [p.as_ignored() for p in unknown] + ignored_refs))
    if unknown:
        return outcome("inconclusive", f"Nothing {scope_words(scope)} was in clear text or below {version_name(minimum)}, but "
                       f"{_described(unknown, minimum)} could not be attributed to the vendor or to the device's background "
                       f"(no first-party name, Origin or call flow ties them to either).{background}",
                       _with_not_judged(balanced([r for p in unknown for r in p.refs]), ignored_refs))
    quic = [q for q in records(bundle, "quic") or [] if judged(role(q), scope)]
    https = [h for h in records(bundle, "http") or [] if judged(role(h), scope)
             and str(h["scheme"] or h["url"]).lower().startswith("https")]
    wss = [w for w in records(bundle, "websocket") or [] if judged(role(w), scope)
           and str(w["url"]).lower().startswith("wss://")]
    tls_judged = [refs for item_role, refs in tls_seen if judged(item_role, scope)]
    encrypted = len(tls_judged) + len(quic) + len(https) + len(wss)
    if encrypted == 0:
        if any(records(bundle, k) for k in ("tls", "http", "websocket", "quic")):
            return outcome("not_observable", f"No connection {scope_words(scope)} with a readable TLS version or a "
                           f"non-loopback HTTP scheme was seen.{background}", ignored_refs)
        return outcome("not_observable", "The evidence holds no TLS, QUIC, HTTP or WebSocket traffic to judge.")
    note = f" ({plural(exempt, 'certificate revocation check')} over plain HTTP ignored)" if exempt else ""
    cited = [r for refs in tls_judged[:10] for r in refs]
    cited += [ref("quic", f"quic{i}", f"QUIC {text(q['sni'], 100)}".strip()) for i, q in enumerate(quic[:5])]
    cited += [ref("http", record_id(h, f"h{i}"), f"HTTPS to {text(h['host'], 100)}") for i, h in enumerate(https[:5])]
    cited += [ref("websocket", record_id(w, f"w{i}"), f"WSS to {text(_host_of(str(w['url'])), 100)}") for i, w in enumerate(wss[:5])]
    unread = _unread_flows(bundle, scope)
    refs = _with_not_judged(cited, ignored_refs + [ref("flow", fid, f"not judged: {what}") for fid, what in unread[:10]])
    unread_note = (f" {plural(len(unread), 'flow')} {scope_words(scope)} in protocols confaudit does not read "
                   f"({listing([what for _f, what in unread], 3, 120)}) could not be judged.") if unread else ""
    return outcome("supported", f"{sentence(all_of(encrypted, 'observed TLS, QUIC, HTTPS or WSS exchange'))} "
                   f"{scope_words(scope)} {were(encrypted)} at {version_name(minimum)} or newer, with no plaintext HTTP, "
                   f"WebSocket or SIP{note}.{unread_note}{background}", refs)


_READ = frozenset({"tls", "quic", "dns", "http", "sip", "stun", "turn", "dtls", "rtp", "srtp", "rtcp", "srtcp", "zoom", "tcp"})


def _unread_flows(bundle: Mapping[str, Any], scope: str) -> list[tuple[str, str]]:
    """(flow id, description) of flows in scope whose protocol confaudit does not read (labelled ``other``)."""
    out = []
    for i, flow in enumerate(records(bundle, "flows") or []):
        if str(flow["protocol"] or "") in _READ or not judged(role(flow), scope) or _loopback(flow["dst"]):
            continue
        out.append((record_id(flow, f"f{i}"), f"{text(flow['transport'], 5)} {text(flow['dst'], 60)}:"
                                              f"{text(flow['dport'], 6)} ({text(flow['packets'], 9)} packets)"))
    return out
