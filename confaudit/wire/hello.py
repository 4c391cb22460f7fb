"""ClientHello / ServerHello / Certificate bodies, shared by the TLS and DTLS parsers.

The functions take one reassembled handshake message body (after the handshake header). Every read
is bounds-checked, so malformed bodies do not raise: one that ends early gives a record with
``complete=False``, an undecodable certificate a record with ``parse_error``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import record_dict, safe_text
from confaudit.wire.names import (
    POST_QUANTUM_GROUPS,
    SRTP_NULL_PROFILES,
    SRTP_PROFILES,
    cipher_suite_name,
    tls_group_name,
    tls_version_name,
)

_MAX_CERTS = 16


class _Reader:
    """Bounds-checked cursor; any read past the end sets ``short`` and returns empty bytes."""

    __slots__ = ("data", "pos", "short")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.short = data, 0, False

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            self.short = True
            self.pos = len(self.data)
            return b""
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        raw = self.take(n)
        return int.from_bytes(raw, "big") if raw else 0

    def vector(self, len_bytes: int) -> bytes:
        return self.take(self.uint(len_bytes))


@dataclass(frozen=True, slots=True)
class ClientHello:
    """A (D)TLS ClientHello."""

    legacy_version: int
    """legacy_version field (0x0303 for TLS 1.2/1.3, 0xfefd for DTLS 1.2/1.3)."""
    supported_versions: tuple[int, ...]
    """Versions offered in extension 43 (GREASE values included as sent)."""
    random: str
    """The 32-byte client random as hex ("" when cut off)."""
    session_id_len: int
    """Length of the legacy session id."""
    cookie_len: int | None
    """DTLS cookie length (None for TLS)."""
    cipher_suites: tuple[int, ...]
    """Offered cipher suites in order."""
    extensions: tuple[int, ...]
    """Extension types in order."""
    sni: str | None
    """server_name host_name, None when absent."""
    alpn: tuple[str, ...]
    """ALPN protocol names offered."""
    ech_present: bool
    """encrypted_client_hello (0xfe0d) extension present."""
    supported_groups: tuple[int, ...]
    """Named groups offered in supported_groups (ext 10)."""
    key_share_groups: tuple[int, ...]
    """Groups with a key share sent (ext 51); 0x11ec = X25519MLKEM768 (post-quantum hybrid)."""
    use_srtp_profiles: tuple[int, ...]
    """SRTP protection profiles offered in use_srtp (ext 14)."""
    use_srtp_mki: str | None
    """use_srtp MKI as hex ("" when empty), None without use_srtp."""
    complete: bool
    """False when the body ended before all fields were read."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with version and profile names added."""
        out = record_dict(self)
        out["legacy_version_name"] = tls_version_name(self.legacy_version)
        out["supported_version_names"] = [tls_version_name(v) for v in self.supported_versions]
        out["cipher_suite_names"] = [cipher_suite_name(c) for c in self.cipher_suites]
        out["use_srtp_profile_names"] = [SRTP_PROFILES.get(p) for p in self.use_srtp_profiles]
        out["key_share_group_names"] = [tls_group_name(g) for g in self.key_share_groups]
        out["post_quantum_key_share"] = any(g in POST_QUANTUM_GROUPS for g in self.key_share_groups)
        return out


@dataclass(frozen=True, slots=True)
class ServerHello:
    """A (D)TLS ServerHello."""

    legacy_version: int
    """legacy_version field."""
    selected_version: int | None
    """Version chosen in supported_versions (ext 43), None when absent (≤ 1.2)."""
    random: str
    """The 32-byte server random as hex."""
    cipher_suite: int | None
    """Chosen cipher suite."""
    cipher_suite_name: str | None
    """IANA name of the chosen cipher suite."""
    extensions: tuple[int, ...]
    """Extension types in order."""
    alpn: str | None
    """ALPN protocol chosen."""
    key_share_group: int | None
    """Group of the server's key share (TLS 1.3, ext 51)."""
    use_srtp_profile: int | None
    """SRTP protection profile chosen in use_srtp (ext 14)."""
    use_srtp_profile_name: str | None
    """IANA name of that profile."""
    null_profile: bool
    """True when the chosen SRTP profile has NULL encryption (0x0005/0x0006)."""
    complete: bool
    """False when the body ended before all fields were read."""

    @property
    def version(self) -> int:
        """The negotiated version: supported_versions if present, else legacy_version."""
        return self.selected_version if self.selected_version is not None else self.legacy_version

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the negotiated version added."""
        out = record_dict(self)
        out["version"] = self.version
        out["version_name"] = tls_version_name(self.version)
        out["key_share_group_name"] = tls_group_name(self.key_share_group) if self.key_share_group is not None else None
        return out


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """Names from one X.509 certificate seen in the clear."""

    subject_cn: str | None
    """Subject common name."""
    issuer_cn: str | None
    """Issuer common name."""
    san_dns: tuple[str, ...]
    """subjectAltName DNS names."""
    parse_error: str | None
    """Why the DER could not be read, None when it could."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def _alpn_list(value: bytes) -> tuple[str, ...]:
    r = _Reader(_Reader(value).vector(2))
    names: list[str] = []
    while r.pos < len(r.data) and len(names) < 128:
        name = r.vector(1)
        if r.short:
            break
        names.append(safe_text(name, 255))
    return tuple(names)


def _sni(value: bytes) -> str | None:
    r = _Reader(_Reader(value).vector(2))
    for _ in range(16):
        if r.pos >= len(r.data):
            break
        kind, name = r.uint(1), r.vector(2)
        if r.short:
            break
        if kind == 0:
            return safe_text(name, 255)
    return None


def _extensions(r: _Reader) -> list[tuple[int, bytes]]:
    if r.pos >= len(r.data):
        return []
    block = _Reader(r.vector(2))
    out: list[tuple[int, bytes]] = []
    while block.pos < len(block.data) and len(out) < 512:
        etype, value = block.uint(2), block.vector(2)
        if block.short:
            r.short = True
            break
        out.append((etype, value))
    return out


def _key_share_groups(value: bytes) -> tuple[int, ...]:
    shares = _Reader(_Reader(value).vector(2))
    groups: list[int] = []
    while shares.pos < len(shares.data) and len(groups) < 32:
        group = shares.uint(2)
        shares.vector(2)
        if shares.short:
            break
        groups.append(group)
    return tuple(groups)


def _u16_list(raw: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2))


def parse_client_hello_body(body: bytes, dtls: bool) -> ClientHello | None:
    """Parse a ClientHello body; None when not even the version is present."""
    body = bytes(body)
    if len(body) < 2:
        return None
    r = _Reader(body)
    legacy_version = r.uint(2)
    random = r.take(32).hex()
    session_id_len = len(r.vector(1))
    cookie_len = len(r.vector(1)) if dtls else None
    suites = _u16_list(r.vector(2))
    r.vector(1)  # compression methods
    fields: dict[str, Any] = {"supported_versions": (), "sni": None, "alpn": (), "use_srtp_profiles": (),
                              "use_srtp_mki": None, "supported_groups": (), "key_share_groups": ()}
    exts = _extensions(r) if not r.short else []
    for etype, value in exts:
        if etype == 0:
            fields["sni"] = _sni(value)
        elif etype == 16:
            fields["alpn"] = _alpn_list(value)
        elif etype == 43 and value:
            fields["supported_versions"] = _u16_list(value[1 : 1 + value[0]])
        elif etype == 14:
            vr = _Reader(value)
            fields["use_srtp_profiles"] = _u16_list(vr.vector(2))
            fields["use_srtp_mki"] = vr.vector(1).hex()
        elif etype == 10:
            fields["supported_groups"] = _u16_list(_Reader(value).vector(2))
        elif etype == 51:
            fields["key_share_groups"] = _key_share_groups(value)
    return ClientHello(
        legacy_version=legacy_version, random=random, session_id_len=session_id_len, cookie_len=cookie_len,
        cipher_suites=suites, extensions=tuple(e for e, _ in exts), ech_present=any(e == 0xFE0D for e, _ in exts),
        complete=not r.short, **fields,
    )


def parse_server_hello_body(body: bytes) -> ServerHello | None:
    """Parse a ServerHello body; None when not even the version is present."""
    body = bytes(body)
    if len(body) < 2:
        return None
    r = _Reader(body)
    legacy_version = r.uint(2)
    random = r.take(32).hex()
    r.vector(1)
    suite_raw = r.take(2)
    suite = int.from_bytes(suite_raw, "big") if suite_raw else None
    r.take(1)
    selected: int | None = None
    key_group: int | None = None
    alpn: str | None = None
    profile: int | None = None
    exts = _extensions(r) if not r.short else []
    for etype, value in exts:
        if etype == 43 and len(value) >= 2:
            selected = int.from_bytes(value[:2], "big")
        elif etype == 51 and len(value) >= 2:
            key_group = int.from_bytes(value[:2], "big")
        elif etype == 16:
            names = _alpn_list(value)
            alpn = names[0] if names else None
        elif etype == 14:
            profiles = _u16_list(_Reader(value).vector(2))
            profile = profiles[0] if profiles else None
    return ServerHello(
        legacy_version=legacy_version, selected_version=selected, random=random, cipher_suite=suite,
        cipher_suite_name=cipher_suite_name(suite) if suite is not None else None,
        extensions=tuple(e for e, _ in exts), alpn=alpn, key_share_group=key_group, use_srtp_profile=profile,
        use_srtp_profile_name=SRTP_PROFILES.get(profile) if profile is not None else None,
        null_profile=profile in SRTP_NULL_PROFILES, complete=not r.short,
    )


def parse_certificate_body(body: bytes) -> tuple[CertificateInfo, ...]:
    """Names of each certificate in a TLS ≤ 1.2 Certificate message body (leaf first)."""
    r = _Reader(_Reader(bytes(body)).vector(3))
    out: list[CertificateInfo] = []
    while r.pos < len(r.data) and len(out) < _MAX_CERTS:
        der = r.vector(3)
        if r.short:
            break
        out.append(certificate_names(der))
    return tuple(out)


def _common_name(name: Any) -> str | None:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value)[:255] if attrs else None


def certificate_names(der: bytes) -> CertificateInfo:
    """Subject/issuer CN and SAN DNS names of one DER certificate (cryptography imported lazily)."""
    from cryptography import x509

    # cryptography parses lazily: malformed DER surfaces as ValueError (or one of these) at load or
    # at first access of the subject, issuer or extensions.
    malformed = (ValueError, x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # malformed-but-loadable certificates are the norm in captures
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
            subject, issuer = _common_name(cert.subject), _common_name(cert.issuer)
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                dns = tuple(str(n)[:255] for n in san.get_values_for_type(x509.DNSName))[:100]
            except x509.ExtensionNotFound:
                dns = ()
        except malformed as exc:
            return CertificateInfo(subject_cn=None, issuer_cn=None, san_dns=(), parse_error=type(exc).__name__)
    return CertificateInfo(subject_cn=subject, issuer_cn=issuer, san_dns=dns, parse_error=None)
