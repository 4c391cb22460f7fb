"""Shared IANA / vendor name tables used by the wire parsers."""

from __future__ import annotations

STUN_METHODS: dict[int, str] = {
    0x001: "Binding",
    0x002: "SharedSecret",
    0x003: "Allocate",
    0x004: "Refresh",
    0x006: "Send",
    0x007: "Data",
    0x008: "CreatePermission",
    0x009: "ChannelBind",
    0x00A: "Connect",
    0x00B: "ConnectionBind",
    0x00C: "ConnectionAttempt",
    0x080: "GoogPing",
}

STUN_ATTRIBUTES: dict[int, str] = {
    0x0001: "MAPPED-ADDRESS",
    0x0002: "RESPONSE-ADDRESS",
    0x0003: "CHANGE-REQUEST",
    0x0004: "SOURCE-ADDRESS",
    0x0005: "CHANGED-ADDRESS",
    0x0006: "USERNAME",
    0x0007: "PASSWORD",
    0x0008: "MESSAGE-INTEGRITY",
    0x0009: "ERROR-CODE",
    0x000A: "UNKNOWN-ATTRIBUTES",
    0x000B: "REFLECTED-FROM",
    0x000C: "CHANNEL-NUMBER",
    0x000D: "LIFETIME",
    0x0012: "XOR-PEER-ADDRESS",
    0x0013: "DATA",
    0x0014: "REALM",
    0x0015: "NONCE",
    0x0016: "XOR-RELAYED-ADDRESS",
    0x0017: "REQUESTED-ADDRESS-FAMILY",
    0x0018: "EVEN-PORT",
    0x0019: "REQUESTED-TRANSPORT",
    0x001A: "DONT-FRAGMENT",
    0x001C: "MESSAGE-INTEGRITY-SHA256",
    0x001D: "PASSWORD-ALGORITHM",
    0x001E: "USERHASH",
    0x0020: "XOR-MAPPED-ADDRESS",
    0x0022: "RESERVATION-TOKEN",
    0x0024: "PRIORITY",
    0x0025: "USE-CANDIDATE",
    0x0026: "PADDING",
    0x0027: "RESPONSE-PORT",
    0x002A: "CONNECTION-ID",
    0x8000: "ADDITIONAL-ADDRESS-FAMILY",
    0x8001: "ADDRESS-ERROR-CODE",
    0x8002: "PASSWORD-ALGORITHMS",
    0x8003: "ALTERNATE-DOMAIN",
    0x8004: "ICMP",
    0x8022: "SOFTWARE",
    0x8023: "ALTERNATE-SERVER",
    0x8027: "CACHE-TIMEOUT",
    0x8028: "FINGERPRINT",
    0x8029: "ICE-CONTROLLED",
    0x802A: "ICE-CONTROLLING",
    0x802B: "RESPONSE-ORIGIN",
    0x802C: "OTHER-ADDRESS",
    0x802D: "ECN-CHECK",
    0x802E: "THIRD-PARTY-AUTHORIZATION",
    0x8030: "MOBILITY-TICKET",
}

# Vendor / non-standard attributes (research note 02 §B5, nDPI stun.c).
STUN_VENDOR_ATTRIBUTES: dict[int, str] = {
    0xC057: "GOOG-NETWORK-INFO",
    0xC058: "GOOG-LAST-ICE-CHECK-RECEIVED",
    0xC059: "GOOG-MISC-INFO",
    0x8008: "MS-VERSION",
    0x8036: "MS-0x8036",
    0x8037: "MS-0x8037",
    0x8050: "MS-SEQUENCE-NUMBER",
    0x8054: "MS-CANDIDATE-IDENTIFIER",
    0x8055: "MS-SERVICE-QUALITY",
    0x8070: "MS-IMPLEMENTATION-VERSION",
    0x4000: "WHATSAPP-4000",
    0x4001: "WHATSAPP-4001",
    0x4002: "WHATSAPP-4002",
}

SRTP_PROFILES: dict[int, str] = {
    0x0001: "SRTP_AES128_CM_HMAC_SHA1_80",
    0x0002: "SRTP_AES128_CM_HMAC_SHA1_32",
    0x0005: "SRTP_NULL_HMAC_SHA1_80",
    0x0006: "SRTP_NULL_HMAC_SHA1_32",
    0x0007: "SRTP_AEAD_AES_128_GCM",
    0x0008: "SRTP_AEAD_AES_256_GCM",
    0x0009: "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM",
    0x000A: "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM",
    0x000B: "SRTP_ARIA_128_CTR_HMAC_SHA1_80",
    0x000C: "SRTP_ARIA_128_CTR_HMAC_SHA1_32",
    0x000D: "SRTP_ARIA_256_CTR_HMAC_SHA1_80",
    0x000E: "SRTP_ARIA_256_CTR_HMAC_SHA1_32",
    0x000F: "SRTP_AEAD_ARIA_128_GCM",
    0x0010: "SRTP_AEAD_ARIA_256_GCM",
}
SRTP_NULL_PROFILES: frozenset[int] = frozenset({0x0005, 0x0006})

TLS_VERSIONS: dict[int, str] = {
    0x0002: "SSL 2.0",
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
    0x0100: "DTLS 1.0 (pre-RFC 0x0100)",  # OpenSSL's DTLS1_BAD_VER (Cisco AnyConnect)
}
WEAK_TLS_VERSIONS: frozenset[int] = frozenset({0x0002, 0x0300, 0x0301, 0x0302, 0xFEFF, 0x0100})

TLS_EXTENSIONS: dict[int, str] = {
    0: "server_name", 1: "max_fragment_length", 5: "status_request", 10: "supported_groups",
    11: "ec_point_formats", 13: "signature_algorithms", 14: "use_srtp", 15: "heartbeat",
    16: "application_layer_protocol_negotiation", 18: "signed_certificate_timestamp",
    21: "padding", 22: "encrypt_then_mac", 23: "extended_master_secret", 27: "compress_certificate",
    28: "record_size_limit", 35: "session_ticket", 41: "pre_shared_key", 42: "early_data",
    43: "supported_versions", 44: "cookie", 45: "psk_key_exchange_modes", 49: "post_handshake_auth",
    50: "signature_algorithms_cert", 51: "key_share", 54: "connection_id", 57: "quic_transport_parameters",
    17513: "application_settings", 17613: "application_settings_new", 0xFE0D: "encrypted_client_hello",
    0xFF01: "renegotiation_info",
}

TLS_CIPHER_SUITES: dict[int, str] = {
    0x0000: "TLS_NULL_WITH_NULL_NULL",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

TLS_GROUPS: dict[int, str] = {
    0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001D: "x25519", 0x001E: "x448",
    0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768", 0x11EC: "X25519MLKEM768", 0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
}
POST_QUANTUM_GROUPS: frozenset[int] = frozenset({0x0200, 0x0201, 0x0202, 0x11EB, 0x11EC, 0x11ED, 0x6399})

# RFC 3551 static payload types: pt -> (encoding name, kind, clock rate).
RTP_STATIC_PAYLOAD_TYPES: dict[int, tuple[str, str, int]] = {
    0: ("PCMU", "audio", 8000),
    3: ("GSM", "audio", 8000),
    4: ("G723", "audio", 8000),
    5: ("DVI4", "audio", 8000),
    6: ("DVI4", "audio", 16000),
    7: ("LPC", "audio", 8000),
    8: ("PCMA", "audio", 8000),
    9: ("G722", "audio", 8000),
    10: ("L16", "audio", 44100),
    11: ("L16", "audio", 44100),
    12: ("QCELP", "audio", 8000),
    13: ("CN", "audio", 8000),
    14: ("MPA", "audio", 90000),
    15: ("G728", "audio", 8000),
    16: ("DVI4", "audio", 11025),
    17: ("DVI4", "audio", 22050),
    18: ("G729", "audio", 8000),
    25: ("CelB", "video", 90000),
    26: ("JPEG", "video", 90000),
    28: ("nv", "video", 90000),
    31: ("H261", "video", 90000),
    32: ("MPV", "video", 90000),
    33: ("MP2T", "av", 90000),
    34: ("H263", "video", 90000),
}

RTCP_PACKET_TYPES: dict[int, str] = {
    192: "FIR", 193: "NACK", 194: "SMPTETC", 195: "IJ",
    200: "SR", 201: "RR", 202: "SDES", 203: "BYE", 204: "APP",
    205: "RTPFB", 206: "PSFB", 207: "XR", 208: "AVB", 209: "RSI", 210: "TOKEN", 211: "IDMS",
}

DNS_TYPES: dict[int, str] = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
    33: "SRV", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 64: "SVCB",
    65: "HTTPS", 255: "ANY",
}

QUIC_VERSIONS: dict[int, str] = {
    0x00000001: "QUIC v1",
    0x6B3343CF: "QUIC v2",
    0x00000000: "version negotiation",
    0x51303433: "Google Q043",
    0x51303436: "Google Q046",
    0x51303530: "Google Q050",
    0x54303530: "Google T050",
    0x54303531: "Google T051",
    0xFACEB001: "mvfst draft-22",
    0xFACEB002: "mvfst draft-27",
    0xFACEB00E: "mvfst experimental",
    0x709A50C4: "QUIC v2 draft-01",
}


def is_gquic_version(version: int) -> bool:
    """Google QUIC: Q0xx and T0xx, the version field being ASCII ("Q046"; digits only)."""
    raw = (version & 0xFFFFFFFF).to_bytes(4, "big")
    return raw[:1] in (b"Q", b"T") and raw[1:].isdigit()


def quic_version_name(version: int) -> str:
    """Readable name of a QUIC version number (drafts and Google/mvfst families included)."""
    if version in QUIC_VERSIONS:
        return QUIC_VERSIONS[version]
    if version & 0xFFFFFF00 == 0xFF000000:
        return f"draft-{version & 0xFF}"
    if version & 0xFFFFFFF0 == 0xFACEB000:
        return f"mvfst 0x{version:08x}"
    if is_gquic_version(version):
        return "Google " + (version & 0xFFFFFFFF).to_bytes(4, "big").decode("ascii")
    if version & 0x0F0F0F0F == 0x0A0A0A0A:
        return "reserved (grease)"
    return f"unknown 0x{version:08x}"


def tls_version_name(version: int | None) -> str | None:
    """"TLS 1.2", "DTLS 1.3", ... or "0x...." for unknown; None for None."""
    if version is None:
        return None
    if version & 0x0F0F == 0x0A0A:
        return "GREASE"
    return TLS_VERSIONS.get(version, f"0x{version:04x}")


def tls_group_name(group: int) -> str | None:
    """Named-group name ("x25519", "X25519MLKEM768", "GREASE"), None when unknown."""
    if group & 0x0F0F == 0x0A0A and group >> 8 == group & 0xFF:
        return "GREASE"
    return TLS_GROUPS.get(group)


def cipher_suite_name(suite: int) -> str | None:
    """IANA name of a (D)TLS cipher suite, None when not in our table."""
    return TLS_CIPHER_SUITES.get(suite)
