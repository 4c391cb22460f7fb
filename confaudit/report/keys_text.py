"""Which keys the audit used, said precisely: HTTPS from where, which key logs, which DTLS sessions they opened.

"1 key log used" tells a reader nothing; "TLS keys of HTTPS connections only; no DTLS keys, so media
content was not examined" tells them what was and was not looked at. Built from the bundle's
``e2ee`` object (``keylogs[]`` with ``kinds`` and ``dtls_sessions_matched``, ``sessions[]`` with
``keys``, ``streams[]`` with ``decrypted``), its ``dtls[]`` handshakes and the ``source`` of its
decoded ``http[]``/``websocket[]`` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import section_object, section_records as records
from confaudit.report.filters import as_int, as_list, as_map

PROXY_KEYLOG = "sslkeys.log"
"""A session's own key log (``confaudit.session.directory.KEYLOG``): the proxy's TLS keys of HTTPS connections."""
BROWSER_KEYLOG = "browser-keys.log"
"""A scenario run's browsers' key log (``confaudit.session.directory.BROWSER_KEYLOG``)."""
SFU_KEYLOG = "sfu-keys.log"
"""A lab scenario run's SFU key log (``confaudit.session.directory.SFU_KEYLOG``)."""
ROLE_PROXY = "the intercepting proxy's TLS keys (HTTPS)"
ROLE_BROWSER = "the scenario browsers' own key log (SSLKEYLOGFILE: TLS; DTLS only where the browser logs it)"
ROLE_SFU = "the lab SFU's key log (transport end)"
ROLE_EMBEDDED = "secrets embedded in the capture (pcapng)"
ROLE_GIVEN = "the auditor's key log (--keylog)"

_TLS13_LABELS = frozenset({"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                           "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
                           "CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET"})
_HTTP_SOURCES = {"live": "the intercepting proxy during the capture", "mitm": "the intercepting proxy's flow file (.mitm)",
                 "har": "the browser's HAR export"}
"""``http[].source`` -> where the decoded HTTPS content came from."""


@dataclass(frozen=True)
class KeyLogUse:
    """One key-log source and what it opened."""

    name: str
    """File name (or 'capture.pcapng (embedded)' for pcapng Decryption Secrets Blocks)."""
    secrets: int
    """Secret lines parsed from it."""
    labels: str
    """Its secret kinds in words, e.g. '17 TLS 1.3 handshake/traffic secret sets, 3 CLIENT_RANDOM'."""
    role: str
    """ROLE_PROXY (a session's own sslkeys.log), ROLE_BROWSER / ROLE_SFU (a scenario run's browser-keys.log /
    sfu-keys.log), ROLE_EMBEDDED (pcapng secrets blocks) or ROLE_GIVEN (--keylog)."""
    dtls_matched: int
    """DTLS handshakes of the capture this key log keyed."""


@dataclass(frozen=True)
class KeysUsed:
    """The report's keys paragraph: a headline sentence and its parts."""

    headline: str
    """One sentence, e.g. 'TLS keys of HTTPS connections only; no DTLS keys, so media content was not examined.'"""
    https: str
    """Where decoded HTTPS content came from (never from key logs: confaudit does not decrypt TLS in captures)."""
    media: str
    """What the DTLS keys opened: sessions keyed, streams decrypted and examined, or why none."""
    keylogs: tuple[KeyLogUse, ...]
    """Every key-log source tried, in bundle order."""
    case: str
    """'no_keylog', 'tls_only', 'dtls_used', 'dtls_unusable' or 'no_match' (for tests and machines)."""


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _name(path: Any) -> str:
    text = str(path or "key log")
    base, _, dsb = text.partition("#dsb")
    name = base.replace("\\", "/").rsplit("/", 1)[-1] or base
    return f"{name} (secrets embedded in the capture)" if dsb else name


def _labels(kinds: Any) -> str:
    if not isinstance(kinds, Mapping) or not kinds:
        return "no secret kinds recorded"
    counts = {str(k): as_int(v) for k, v in kinds.items()}
    tls13 = max((counts[k] for k in counts if k in _TLS13_LABELS), default=0)
    parts = [f"{_plural(tls13, 'TLS 1.3 / DTLS 1.3 secret set')}"] if tls13 else []
    parts += [f"{counts[k]:,} {k}" for k in sorted(counts) if k not in _TLS13_LABELS]
    return ", ".join(parts)


def _role(path: Any, input_dirs: set[str]) -> str:
    text = str(path or "").replace("\\", "/")
    if "#dsb" in text:
        return ROLE_EMBEDDED
    folder, _, name = text.rpartition("/")
    if folder not in input_dirs:
        return ROLE_GIVEN
    return {PROXY_KEYLOG: ROLE_PROXY, BROWSER_KEYLOG: ROLE_BROWSER, SFU_KEYLOG: ROLE_SFU}.get(name, ROLE_GIVEN)


def _source(use: KeyLogUse) -> str:
    """A DTLS key source as a report names it: the lab SFU's key log says where the transport ends."""
    return f"{ROLE_SFU} ({use.name})" if use.role == ROLE_SFU else use.name


def _input_dirs(bundle: Mapping[str, Any]) -> set[str]:
    inputs = (records(bundle, "inputs") or [])
    return {str(i["path"] or "").replace("\\", "/").rpartition("/")[0] for i in inputs if isinstance(i, Mapping)}


def _https(bundle: Mapping[str, Any]) -> str:
    sources: dict[str, int] = {}
    for key in ("http", "websocket"):
        records = bundle.get(key)
        for r in records if isinstance(records, list) else []:
            if isinstance(r, Mapping):
                src = str(r.get("source") or "")
                sources[src] = sources.get(src, 0) + 1
    if not sources:
        return ("No HTTPS content was decoded: the inputs hold no proxy or HAR records, and confaudit does not decrypt "
                "TLS inside packet captures, so HTTPS appears only as handshakes (server names, versions).")
    where = [f"{_HTTP_SOURCES.get(s, 'imported records')} ({_plural(n, 'request or message', 'requests and messages')})"
             for s, n in sorted(sources.items(), key=lambda kv: -kv[1])]
    return "HTTPS content was read by " + " and ".join(where) + ", not decrypted from the packet capture with a key log."


def _flow(record: Mapping[str, Any]) -> str:
    """The record's flow id, or '' when it has none (a wrong-typed id matches no flow)."""
    flow = record.get("flow")
    return flow if isinstance(flow, str) else ""


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def keys_used(bundle: Mapping[str, Any]) -> KeysUsed:
    """What keys were used, and what that means for the media, in plain sentences."""
    e2ee: Mapping[str, Any] = (section_object(bundle, "e2ee") or {})
    dirs = _input_dirs(bundle)
    uses = tuple(KeyLogUse(name=_name(k.get("path")), secrets=as_int(k.get("lines")), labels=_labels(k.get("kinds")),
                           role=_role(k.get("path"), dirs), dtls_matched=as_int(k.get("dtls_sessions_matched")))
                 for k in _records(e2ee.get("keylogs")))
    # handshakes and streams of another call in the same capture (another operator's or program's) are not the
    # vendor's call: counted apart, as the media checks leave them out
    from confaudit.rules.checks._common import foreign_call_flows

    foreign = foreign_call_flows(bundle)
    all_sessions = _records(e2ee.get("sessions"))
    sessions = [s for s in all_sessions if _flow(s) not in foreign]
    dtls = [d for d in _records(bundle.get("dtls")) if _flow(d) not in foreign]
    handshakes = len(sessions) if all_sessions else len(dtls)
    set_aside = len(all_sessions) - len(sessions)
    keyed = sum(1 for s in sessions if s.get("keys") == "found")
    streams = [s for s in _records(e2ee.get("streams")) if _flow(s) not in foreign]
    opened = [s for s in streams if as_int(s.get("decrypted")) > 0]
    packets = sum(as_int(s.get("decrypted")) for s in opened)
    hs = _plural(handshakes, "DTLS handshake")
    not_examined = "so media content was not examined"

    if not uses:
        case = "no_keylog"
        headline = f"No key log; no DTLS keys, {not_examined}."
        media = (f"No key log was given or found, so none of the {hs} in the capture could be opened; {not_examined}."
                 if handshakes else f"No key log was given or found, and the capture holds no DTLS handshake, {not_examined}.")
    elif opened:
        case = "dtls_used"
        sources = ", ".join(_source(u) for u in uses if u.dtls_matched) or ", ".join(_source(u) for u in uses)
        closed = len(streams) - len(opened)
        headline = (f"DTLS keys from {sources} opened {keyed} of {hs}: "
                    f"{_plural(len(opened), 'media stream')} decrypted and examined.")
        media = (f"DTLS keys from {sources} matched {keyed} of {hs} in the capture; {_plural(len(opened), 'media stream')} "
                 f"({_plural(packets, 'packet')}) were decrypted and their content examined for an inner encryption layer"
                 + (f"; {_plural(closed, 'stream')} stayed closed (no keys for their DTLS session, or their packets failed "
                    "authentication)." if closed else "."))
    elif keyed:
        case = "dtls_unusable"
        headline = f"DTLS keys matched {keyed} of {hs}, but no media packet decrypted with them; {not_examined}."
        media = (f"Key-log secrets matched {keyed} of {hs} in the capture, but no media packet authenticated with the "
                 f"derived keys (a capture that starts mid-call, or keys of another session), {not_examined}.")
    elif all(u.role in (ROLE_PROXY, ROLE_BROWSER) for u in uses):
        case = "tls_only"
        names = ", ".join(u.name for u in uses)
        whose = " and ".join(dict.fromkeys("the intercepting proxy's" if u.role == ROLE_PROXY else "the browsers' own"
                                           for u in uses))
        headline = f"TLS keys of HTTPS connections only ({names}); no DTLS keys, {not_examined}."
        media = (f"{names} {'hold' if len(uses) > 1 else 'holds'} {whose} TLS keys of HTTPS connections, not keys of "
                 "the call's media" + ("" if all(u.role == ROLE_PROXY for u in uses) else " (Chromium logs no DTLS secrets)") + "; "
                 + (f"none of the {hs} in the capture could be opened, {not_examined}." if handshakes
                    else f"the capture holds no DTLS handshake either; {not_examined}."))
    else:
        case = "no_match"
        names = ", ".join(u.name for u in uses)
        total = sum(u.secrets for u in uses)
        if handshakes:
            headline = f"Key log present ({names}), but none of its keys matched the {hs}, {not_examined}."
            media = (f"{names} holds {_plural(total, 'secret')}, but none belongs to any of the {hs} in the capture "
                     f"(keys of another session or another endpoint?), {not_examined}.")
        else:
            headline = f"Key log present ({names}), but the capture holds no DTLS handshake; {not_examined}."
            media = (f"{names} holds {_plural(total, 'secret')}, but the capture holds no DTLS handshake, so there were "
                     f"no media keys to derive; {not_examined}.")
    if set_aside:
        media += (f" {_plural(set_aside, 'DTLS handshake')} of another call in the same capture (another operator's or "
                  "program's) not counted.")
    return KeysUsed(headline=headline, https=_https(bundle), media=media, keylogs=uses, case=case)
