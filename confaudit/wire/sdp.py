"""SDP (RFC 8866) with the WebRTC/SIP attributes an audit needs: codecs, keys, ICE, DTLS, SSRCs.

``crypto`` key params and ``ice_pwd`` are returned RAW (the E2EE stage needs the SDES keys); any
caller that writes them out must redact them first (``confaudit.redact``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confaudit.wire._records import record_dict

_MAX_LINES = 20000
_MAX_TEXT = 1 << 20
_MAX_MEDIA = 128
_MAX_PER_LIST = 512
_DIRECTIONS = {"sendrecv", "sendonly", "recvonly", "inactive"}


@dataclass(frozen=True, slots=True)
class SdpPayloadType:
    """One payload type of a media section."""

    pt: int
    """Payload type number."""
    codec: str | None
    """Encoding name from a=rtpmap (or the RFC 3551 static name)."""
    clock: int | None
    """Clock rate."""
    channels: int | None
    """Audio channels from rtpmap."""
    fmtp: str | None
    """a=fmtp parameters."""


@dataclass(frozen=True, slots=True)
class SdpCrypto:
    """An a=crypto line (RFC 4568 SDES)."""

    tag: int | None
    """Crypto tag."""
    suite: str
    """Crypto suite (AES_CM_128_HMAC_SHA1_80, ...)."""
    key_params: str
    """Key parameters RAW ("inline:<base64 master key||salt>|...") — the caller must redact."""
    session_params: str
    """Remaining session parameters."""


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """An a=candidate line (RFC 8839)."""

    foundation: str
    """Foundation."""
    component: int | None
    """Component id (1 RTP, 2 RTCP)."""
    transport: str
    """"udp" / "tcp" (lower-case)."""
    priority: int | None
    """Priority."""
    address: str
    """Connection address (may be an mDNS .local name)."""
    port: int | None
    """Port."""
    typ: str | None
    """host / srflx / prflx / relay."""
    raddr: str | None
    """Related address."""
    rport: int | None
    """Related port."""


@dataclass(frozen=True, slots=True)
class SdpMedia:
    """One m= section."""

    kind: str
    """audio / video / application / ..."""
    port: int | None
    """Port (0 = rejected)."""
    proto: str
    """RTP/AVP, RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, UDP/DTLS/SCTP, ..."""
    formats: tuple[str, ...]
    """Formats from the m= line."""
    payload_types: tuple[SdpPayloadType, ...]
    """Payload types with rtpmap/fmtp."""
    connection: str | None
    """c= address of the section."""
    crypto: tuple[SdpCrypto, ...]
    """SDES keys (RAW)."""
    fingerprint: tuple[str, str] | None
    """(hash function, fingerprint) — session-level value when the section has none."""
    setup: str | None
    """a=setup role."""
    ice_ufrag: str | None
    """ICE ufrag (section or session level)."""
    ice_pwd: str | None
    """ICE password RAW — the caller must redact."""
    candidates: tuple[IceCandidate, ...]
    """ICE candidates."""
    ssrcs: tuple[tuple[int, str | None, str | None], ...]
    """(ssrc, cname, msid) from a=ssrc lines."""
    extmap: tuple[tuple[int, str], ...]
    """(id, URI) header extensions."""
    rtcp_mux: bool
    """a=rtcp-mux present."""
    direction: str
    """sendrecv / sendonly / recvonly / inactive (default sendrecv)."""
    mid: str | None
    """a=mid."""


@dataclass(frozen=True, slots=True)
class SdpSession:
    """A whole SDP description."""

    origin: tuple[str, str, str, str, str, str] | None
    """o= (username, sess-id, sess-version, nettype, addrtype, address)."""
    session_name: str | None
    """s=."""
    connection: str | None
    """Session-level c= address."""
    media: tuple[SdpMedia, ...]
    """m= sections."""
    groups: tuple[str, ...]
    """a=group values (e.g. "BUNDLE 0 1")."""
    fingerprint: tuple[str, str] | None
    """Session-level fingerprint."""
    ice_ufrag: str | None
    """Session-level ICE ufrag."""
    ice_pwd: str | None
    """Session-level ICE password RAW."""
    problems: tuple[str, ...] = field(default=())
    """Lines that could not be read."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def _int(text: str) -> int | None:
    text = text.strip()
    # ASCII digits only: str.isdigit() also accepts '²', which int() rejects
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _candidate(value: str) -> IceCandidate | None:
    parts = value.split()
    if len(parts) < 6:
        return None
    extra = dict(zip(parts[6::2], parts[7::2]))
    return IceCandidate(parts[0], _int(parts[1]), parts[2].lower(), _int(parts[3]), parts[4], _int(parts[5]),
                        extra.get("typ"), extra.get("raddr"), _int(extra.get("rport", "")))


class _Section:
    """Mutable accumulator for one m= section (or the session level)."""

    def __init__(self, mline: str | None) -> None:
        self.mline = mline
        self.attrs: dict[str, str] = {}
        self.rtpmap: dict[int, tuple[str, int | None, int | None]] = {}
        self.fmtp: dict[int, str] = {}
        self.crypto: list[SdpCrypto] = []
        self.candidates: list[IceCandidate] = []
        self.ssrcs: dict[int, dict[str, str]] = {}
        self.extmap: list[tuple[int, str]] = []
        self.flags: set[str] = set()
        self.connection: str | None = None
        self.groups: list[str] = []

    def attribute(self, name: str, value: str, problems: list[str]) -> None:
        if name == "rtpmap":
            pt, _, enc = value.partition(" ")
            codec, _, rest = enc.partition("/")
            clock, _, channels = rest.partition("/")
            number = _int(pt)
            if number is not None and len(self.rtpmap) < _MAX_PER_LIST:
                self.rtpmap[number] = (codec.strip(), _int(clock), _int(channels))
        elif name == "fmtp":
            pt, _, params = value.partition(" ")
            number = _int(pt)
            if number is not None and len(self.fmtp) < _MAX_PER_LIST:
                self.fmtp[number] = params.strip()
        elif name == "crypto":
            parts = value.split(maxsplit=3)
            if len(parts) >= 3 and len(self.crypto) < _MAX_PER_LIST:
                self.crypto.append(SdpCrypto(_int(parts[0]), parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
            else:
                problems.append("unreadable a=crypto line")
        elif name == "candidate":
            cand = _candidate(value)
            if cand is None:
                problems.append("unreadable a=candidate line")
            elif len(self.candidates) < _MAX_PER_LIST:
                self.candidates.append(cand)
        elif name == "ssrc":
            ssrc, _, rest = value.partition(" ")
            key, _, val = rest.partition(":")
            number = _int(ssrc)
            if number is not None and len(self.ssrcs) < _MAX_PER_LIST:
                self.ssrcs.setdefault(number, {}).setdefault(key.strip(), val.strip())
        elif name == "extmap":
            ident, _, uri = value.partition(" ")
            ident = ident.partition("/")[0]
            number = _int(ident)
            if number is not None and len(self.extmap) < _MAX_PER_LIST:
                self.extmap.append((number, uri.split()[0] if uri.split() else ""))
        elif name == "group":
            self.groups.append(value)
        elif value == "" and name in _DIRECTIONS | {"rtcp-mux"}:
            self.flags.add(name)
        else:
            self.attrs.setdefault(name, value)


def _fingerprint(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    algo, _, fp = value.partition(" ")
    return (algo.lower(), fp.strip())


def _media(sec: _Section, session: _Section) -> SdpMedia:
    parts = (sec.mline or "").split()
    kind, port = (parts[0] if parts else ""), _int(parts[1].partition("/")[0]) if len(parts) > 1 else None
    proto, formats = (parts[2] if len(parts) > 2 else ""), tuple(parts[3:67])
    pts = []
    for fmt in formats:
        pt = _int(fmt)
        if pt is None:
            continue
        codec, clock, channels = sec.rtpmap.get(pt, (None, None, None))
        if codec is None:
            from confaudit.wire.rtp import static_payload_type

            static = static_payload_type(pt)
            codec, clock = (static[0], static[2]) if static else (None, None)
        pts.append(SdpPayloadType(pt, codec, clock, channels, sec.fmtp.get(pt)))
    direction: str | None = next((d for d in ("sendonly", "recvonly", "inactive", "sendrecv") if d in sec.flags), None)
    direction = direction or next((d for d in ("sendonly", "recvonly", "inactive") if d in session.flags), "sendrecv")
    return SdpMedia(
        kind=kind, port=port, proto=proto, formats=formats, payload_types=tuple(pts),
        connection=sec.connection or session.connection, crypto=tuple(sec.crypto or session.crypto),
        fingerprint=_fingerprint(sec.attrs.get("fingerprint") or session.attrs.get("fingerprint")),
        setup=sec.attrs.get("setup") or session.attrs.get("setup"),
        ice_ufrag=sec.attrs.get("ice-ufrag") or session.attrs.get("ice-ufrag"),
        ice_pwd=sec.attrs.get("ice-pwd") or session.attrs.get("ice-pwd"),
        candidates=tuple(sec.candidates),
        ssrcs=tuple((s, v.get("cname"), v.get("msid")) for s, v in sec.ssrcs.items()),
        extmap=tuple(sec.extmap), rtcp_mux="rtcp-mux" in sec.flags, direction=direction, mid=sec.attrs.get("mid"),
    )


def parse_sdp(text: str | bytes) -> SdpSession:
    """Parse SDP text (\\n or \\r\\n line ends); unreadable lines are listed in ``problems``."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text[:_MAX_TEXT]).decode("utf-8", errors="replace")
    problems: list[str] = []
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT]
        problems.append("SDP longer than 1 MiB; the rest was not read")
    session = _Section(None)
    sections: list[_Section] = []
    current = session
    origin = name = None
    for raw in text.splitlines()[:_MAX_LINES]:
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            if line:
                problems.append(f"not an SDP line: {line[:40]!r}")
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if len(sections) >= _MAX_MEDIA:
                problems.append("media section limit reached")
                break
            current = _Section(value)
            sections.append(current)
        elif kind == "o" and current is session:
            parts = value.split()
            origin = tuple(parts[:6]) if len(parts) >= 6 else None
        elif kind == "s" and current is session:
            name = value
        elif kind == "c":
            parts = value.split()
            current.connection = parts[2].partition("/")[0] if len(parts) >= 3 else None
        elif kind == "a":
            attr, _, val = value.partition(":")
            current.attribute(attr.strip().lower(), val.strip(), problems)
    return SdpSession(
        origin=origin, session_name=name, connection=session.connection,  # type: ignore[arg-type]
        media=tuple(_media(s, session) for s in sections), groups=tuple(session.groups),
        fingerprint=_fingerprint(session.attrs.get("fingerprint")), ice_ufrag=session.attrs.get("ice-ufrag"),
        ice_pwd=session.attrs.get("ice-pwd"), problems=tuple(problems[:50]),
    )
