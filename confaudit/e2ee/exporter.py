"""DTLS-SRTP keying (RFC 5764 §4.2): TLS exporters and SRTP profile key splitting.

- DTLS 1.0/1.2: RFC 5705 exporter = PRF(master_secret, label, client_random + server_random).
- DTLS 1.3: RFC 8446 §7.5 exporter from EXPORTER_SECRET, with HKDF-Expand-Label's prefix
  "dtls13" instead of "tls13 " (RFC 9147 §5.9).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SRTP_EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"


@dataclass(frozen=True)
class SrtpProfile:
    """An IANA DTLS-SRTP protection profile that pylibsrtp can decrypt."""

    code: int
    """IANA code point (use_srtp extension)."""
    name: str
    """IANA name."""
    key_length: int
    """Master key bytes."""
    salt_length: int
    """Master salt bytes."""


PROFILES: dict[int, SrtpProfile] = {p.code: p for p in (
    SrtpProfile(0x0001, "SRTP_AES128_CM_HMAC_SHA1_80", 16, 14),
    SrtpProfile(0x0002, "SRTP_AES128_CM_HMAC_SHA1_32", 16, 14),
    SrtpProfile(0x0007, "SRTP_AEAD_AES_128_GCM", 16, 12),
    SrtpProfile(0x0008, "SRTP_AEAD_AES_256_GCM", 32, 12),
)}

# TLS 1.2 suites whose PRF hash is SHA-384 (everything else in DTLS 1.2 uses SHA-256).
_SHA384_SUITES = frozenset({0x009D, 0x009F, 0x00A3, 0x00A5, 0x00A7, 0x00A9, 0x00AB, 0x00AD, 0x00AF,
                            0xC024, 0xC028, 0xC02C, 0xC030, 0xC032, 0xC02E, 0xC038, 0xC0AD, 0xC0AF})
_TLS13_HASH = {0x1301: "sha256", 0x1302: "sha384", 0x1303: "sha256", 0x1304: "sha256", 0x1305: "sha256"}


def libsrtp_profile(profile: SrtpProfile) -> int:
    """pylibsrtp's constant for the profile."""
    from pylibsrtp import Policy

    return {
        0x0001: Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        0x0002: Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
        0x0007: Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
        0x0008: Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    }[profile.code]


def _p_hash(name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, name).digest()
        out += hmac.new(secret, a + seed, name).digest()
    return out[:length]


def prf_tls12(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str = "sha256") -> bytes:
    """TLS 1.2 PRF (RFC 5246 §5)."""
    return _p_hash(hash_name, secret, label + seed, length)


def prf_tls10(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """TLS 1.0/1.1 PRF (RFC 2246 §5): P_MD5 xor P_SHA1 over the two halves of the secret (DTLS 1.0)."""
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha = _p_hash("sha1", secret[len(secret) - half:], label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha))


def export_dtls12(master_secret: bytes, client_random: bytes, server_random: bytes, length: int,
                  *, cipher_suite: int | None = None, dtls10: bool = False) -> bytes:
    """RFC 5705 exporter without context, as DTLS-SRTP uses it."""
    seed = client_random + server_random
    if dtls10:
        return prf_tls10(master_secret, SRTP_EXPORTER_LABEL, seed, length)
    hash_name = "sha384" if cipher_suite in _SHA384_SUITES else "sha256"
    return prf_tls12(master_secret, SRTP_EXPORTER_LABEL, seed, length, hash_name)


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int, hash_name: str,
                      prefix: bytes = b"dtls13") -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1) with the DTLS 1.3 label prefix by default."""
    full = prefix + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return out[:length]


def export_tls13(exporter_secret: bytes, length: int, *, cipher_suite: int | None = None,
                 prefix: bytes = b"dtls13", label: bytes = SRTP_EXPORTER_LABEL, context: bytes = b"") -> bytes:
    """RFC 8446 §7.5 TLS-Exporter(label, context, length) from EXPORTER_SECRET."""
    hash_name = _TLS13_HASH.get(cipher_suite or 0x1301, "sha256")
    empty_hash = hashlib.new(hash_name, b"").digest()
    derived = hkdf_expand_label(exporter_secret, label, empty_hash, len(empty_hash), hash_name, prefix)
    return hkdf_expand_label(derived, b"exporter", hashlib.new(hash_name, context).digest(), length, hash_name, prefix)


def keying_material_length(profile: SrtpProfile) -> int:
    return 2 * (profile.key_length + profile.salt_length)


def split_keying_material(profile: SrtpProfile, material: bytes) -> tuple[bytes, bytes]:
    """(client_write key||salt, server_write key||salt) per RFC 5764 §4.2."""
    k, s = profile.key_length, profile.salt_length
    client = material[0:k] + material[2 * k:2 * k + s]
    server = material[k:2 * k] + material[2 * k + s:2 * k + 2 * s]
    return client, server
