"""Replace the auditor's secrets with keyed HMAC tokens: by structure first, then by pattern.

A token looks like ``[REDACTED <kind> #<8 hex>]``; the hex is HMAC-SHA256(key, secret), so equal
secrets stay linkable across a bundle while a reader without the key cannot brute-force short
secrets (PINs, passwords). Every method is pure and idempotent: redacting redacted output is a no-op.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, unquote_plus, urlsplit

KEY_ENV = "CONFAUDIT_REDACTION_KEY"
TOKEN_RE = re.compile(r"\[REDACTED [A-Za-z0-9_.\-]{1,40} #[0-9a-f]{8}\]")
_URL_TOKEN_RE = re.compile(r"(?:\[|%5B)REDACTED(?:%20| |\+)[A-Za-z0-9_.\-]{1,40}(?:%20| |\+)(?:%23|#)[0-9a-f]{8}(?:\]|%5D)")
_MAX_DEPTH = 200
_MAX_REMEMBERED_PIECES = 50_000
_MAX_REMEMBERED_VALUES = 10_000
"""Short strings, texts and tokens remembered with their redaction, per memo (:func:`_remembered`)."""

# Header names redacted whole (case-insensitive), plus any name containing one of the fragments.
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "api-key", "x-api-key",
                   "x-amz-security-token", "x-goog-api-key", "x-csrf-token", "x-xsrf-token"}
_SECRET_HEADER_FRAGMENTS = ("token", "secret", "session", "auth", "key", "signature", "password",
                            "csrf", "xsrf", "cookie", "credential", "passcode")
_URL_HEADERS = {"referer", "location", "origin", "content-location", "link"}
_COOKIE_ATTRIBUTES = {"path", "domain", "expires", "max-age", "secure", "httponly", "samesite",
                      "partitioned", "priority"}

# Parameter / JSON key names: exact compact names, and words that make any name secret.
_SECRET_NAMES = {"code", "pin", "otp", "sig", "sid", "key", "pwd", "passwd", "password", "secret", "token",
                 "session", "sessionid", "jsessionid", "phpsessid", "apikey", "assertion", "samlresponse",
                 "samlrequest", "credential", "credentials", "auth", "authorization", "signature", "csrf",
                 "passcode", "xamzsignature", "xamzcredential", "xamzsecuritytoken", "xgoogapikey", "jwt"}
_SECRET_WORDS = {"token", "secret", "password", "passwd", "pwd", "signature", "sig", "csrf", "xsrf",
                 "credential", "credentials", "passcode", "apikey", "auth", "authorization", "otp",
                 "jwt", "bearer", "cookie", "privatekey", "passphrase"}
_SECRET_FRAGMENTS = ("token", "secret", "password", "passwd", "csrf", "xsrf", "apikey", "credential", "signature",
                     "passcode", "privatekey", "sessionid", "sessionkey", "accesskey")
_SESSION_WORDS = {"session", "sid", "key"}
_SESSION_COMPANIONS = {"id", "key", "token", "secret", "api", "access", "private", "secret", "x", "session", "sid"}
# Words naming an object or array whose strings are all credentials ({"credentials": [{"type": .., "value": ..}]}).
_CONTAINER_WORDS = {"password", "passwords", "passwd", "secret", "secrets", "credential", "credentials", "token",
                    "tokens", "apikey", "apikeys", "privatekey", "passphrase"}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")),
    ("aws-key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("google-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}")),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("slack-token", re.compile(r"\bxox[abposre]-[A-Za-z0-9\-]{10,}")),
    ("stripe-key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}")),
)
_AUTH_SCHEME_RE = re.compile(r"\b(Bearer|Basic|Digest|Token|Negotiate)(\s+)([A-Za-z0-9._~+/=\-]{6,})", re.I)
_USERINFO_RE = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]{1,15}://)([^/\s@\[\]\"'<>]{1,256}@)")
# RFC 3261 section 19.1.1: sip:user:password@host (deprecated, still sent by softphones and SIP-over-WebSocket);
# the password grammar has no ":;/?@", which also keeps the scan linear.
_SIP_PASSWORD_RE = re.compile(r"(?i)\b(sips?:[^:@\s<>\"'\[\]]{1,256}:)([^@\s<>\"'\[\]:;/?]{1,256})@")
_SIP_SCHEME_RE = re.compile(r"(?i)sips?:")
# A URL's userinfo urllib cannot split: brackets (read as an IPv6 host), or an older confaudit's unescaped
# token, whose "#" also starts a fragment.
_BRACKETED_USERINFO_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]{0,15}://)(\[REDACTED [A-Za-z0-9_.\-]{1,40} #[0-9a-f]{8}\]"
                                    r"|[^/?#\s\[\]]*[\[\]][^/?#\s]*)@")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_\-]{16,}={0,2}")
_ASSIGNMENT_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z0-9_.\-]{0,40}?(?:password|passwd|pwd|secret|token|api[_\-]?key"
    r"|access[_\-]?key|signature|credential|passcode|session[_\-]?id|csrf|xsrf)[A-Za-z0-9_.\-]{0,40})"
    r"(?P<sep>\\?[\"']?\s*[=:]\s*\\?[\"']?)(?P<val>[^\s\"'&;,<>\\\[\]{}]{1,4096})")
# Cheap pre-check: text without any of these fragments cannot match a pattern below.
_MAYBE_SECRET_RE = re.compile(
    r"eyJ|AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox|_live_|_test_|PRIVATE KEY|bearer|basic|digest|token|negotiate"
    r"|://|passw|pwd|secret|api|access|signature|credential|passcode|session|csrf|xsrf|a=ice-pwd|a=crypto|sips?:"
    r"|W3si", re.I)
# JSON keys that may name a secret without any fragment above (pin, sid, code, key, username of TURN, ...).
_MAYBE_SECRET_KEY_WORDS = "pin|sid|code|key|otp|sig|auth|jwt|username|cookie|saml|assertion"
_MAYBE_SECRET_KEY_RE = re.compile(r'"[^"\\]{0,40}(?:' + _MAYBE_SECRET_KEY_WORDS + r')[^"\\]{0,40}"\s*:', re.I)
_ICE_PWD_RE = re.compile(r"(a=ice-pwd:)([A-Za-z0-9+/=]+)")
_CRYPTO_RE = re.compile(r"(a=crypto:[^\r\n\\]{0,200}?inline:)([A-Za-z0-9+/=]+)")
_INLINE_KEY_RE = re.compile(r"(inline:)([A-Za-z0-9+/=]+)")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# _MAYBE_SECRET_RE's alternatives as lower-case literals: searched in lower-cased ASCII text they are found six
# times faster than by the case-insensitive alternation, which tries every branch at every position.
_MAYBE_SECRET_LITERALS = ("eyj", "akia", "asia", "aiza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox",
                          "_live_", "_test_", "private key", "bearer", "basic", "digest", "token", "negotiate", "://",
                          "passw", "pwd", "secret", "api", "access", "signature", "credential", "passcode", "session",
                          "csrf", "xsrf", "a=crypto", "sip:", "sips:", "w3si")


def literal_trie(words: Iterable[str]) -> str:
    """A pattern that finds any of ``words`` where the plain alternation finds one (found or not: not which, nor
    where), built as a trie: the engine then tries one branch per first letter instead of every word at
    every position -- half the time of the alternation on a typical body."""
    def branch(tails: list[str]) -> str:
        if "" in tails:  # a word ends here: any continuation is found as well
            return ""
        firsts: dict[str, list[str]] = {}
        for tail in tails:
            firsts.setdefault(tail[0], []).append(tail[1:])
        alternatives = [re.escape(first) + branch(rest) for first, rest in sorted(firsts.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return branch(sorted(set(words)))


_MAYBE_SECRET_LOWER_RE = re.compile(literal_trie(_MAYBE_SECRET_LITERALS))


# _MAYBE_SECRET_KEY_RE cannot match ASCII text whose lower case holds none of its words: searched first, they
# spare most texts the pattern, which tries its 40-character windows at every quote.
_MAYBE_SECRET_KEY_WORDS_RE = re.compile(literal_trie(_MAYBE_SECRET_KEY_WORDS.split("|")))


def _maybe_secret_fragment(text: str) -> bool:
    """``_MAYBE_SECRET_RE.search(text)`` as a bool (non-ASCII text takes the regex: Unicode case folding
    matches more than ``str.lower`` gives, the long s ``ſ`` for ``s``)."""
    if not text.isascii():
        return _MAYBE_SECRET_RE.search(text) is not None
    return _MAYBE_SECRET_LOWER_RE.search(text.lower()) is not None


def latin1_may_hold_secret_pattern(text: str) -> bool:
    """:func:`_maybe_secret_fragment` of text whose characters are all below U+0100 (bytes read as latin-1), by
    ``str.lower``: no character there folds to an ASCII letter under Unicode case folding (the long s and the
    Kelvin sign lie above), and none lowers to one, so the lower-case search finds exactly what the case-blind
    pattern finds -- at a fraction of its cost on binary payloads."""
    return _MAYBE_SECRET_LOWER_RE.search(text.lower()) is not None


def may_hold_secret(text: str) -> bool:
    """Cheap test: False means neither a secret key name nor a token pattern can occur in ``text``."""
    if not text.isascii():
        return _MAYBE_SECRET_RE.search(text) is not None or _MAYBE_SECRET_KEY_RE.search(text) is not None
    lowered = text.lower()
    if _MAYBE_SECRET_LOWER_RE.search(lowered) is not None:
        return True
    return _MAYBE_SECRET_KEY_WORDS_RE.search(lowered) is not None and _MAYBE_SECRET_KEY_RE.search(text) is not None


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", _CAMEL_RE.sub("_", name).lower()) if w]


@lru_cache(maxsize=8192)  # names repeat in every request; the answer depends on the name alone
def is_secret_name(name: str) -> bool:
    """True for a query, form or JSON key that names a credential (access_token, apiKey, sid, ...)."""
    words = _words(name)
    if not words:
        return False
    if "".join(words) in _SECRET_NAMES:
        return True
    joined = "".join(words)
    if any(w in _SECRET_WORDS for w in words) or any(f in joined for f in _SECRET_FRAGMENTS):
        return True
    return any(w in _SESSION_WORDS for w in words) and all(w in _SESSION_COMPANIONS for w in words)


def is_secret_container(name: str) -> bool:
    """True for a key whose object or array value holds only credentials (credentials, tokens, secrets, ...)."""
    words = _words(name)
    return any(w in _CONTAINER_WORDS for w in words) or "".join(words) in _CONTAINER_WORDS


def is_secret_header(name: str) -> bool:
    """True for a header whose value is a credential (Authorization, Cookie, X-Api-Key, *token*, ...)."""
    low = name.strip().lower()
    if low.startswith(":"):  # HTTP/2 pseudo-headers in HAR exports (":authority" is the host)
        return False
    return low in _SECRET_HEADERS or any(f in low for f in _SECRET_HEADER_FRAGMENTS)


def _kind_label(kind: str) -> str:
    label = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(kind))[:40]
    return label or "secret"


def _remembered(memo: dict[Any, str], key: Any, redact: Callable[..., str], *args: Any) -> str:
    """``redact(*args)``, remembered in ``memo`` under ``key`` (which starts over past
    :data:`_MAX_REMEMBERED_VALUES`): redaction is a pure function of its input under one key."""
    found = memo.get(key)
    if found is None:
        if len(memo) >= _MAX_REMEMBERED_VALUES:
            memo.clear()
        found = memo[key] = redact(*args)
    return found


class Redactor:
    """Redacts secrets with HMAC-SHA256 tokens under one key."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("redaction key must not be empty")
        self._key = bytes(key)
        self._form_pieces: dict[str, str] = {}
        # Short values remembered with their redaction (:func:`_remembered`): an import redacts a URL's query as
        # text and again as pairs, and a session repeats its keys, token and header values in every request.
        self._strings: dict[Any, str] = {}
        self._tokens: dict[Any, str] = {}
        self._texts: dict[Any, str] = {}

    @classmethod
    def default(cls) -> "Redactor":
        """Key from $CONFAUDIT_REDACTION_KEY, else the per-user key file (created 0600 on first use)."""
        env = os.environ.get(KEY_ENV)
        if env:
            return cls(env.encode("utf-8"))
        return cls(_user_key(_key_path()))

    def token(self, kind: str, value: str | bytes) -> str:
        """``[REDACTED kind #hmac8]``; an existing token is returned unchanged."""
        if type(value) is str and len(value) < 512:  # a session's token recurs in every request it makes
            return _remembered(self._tokens, (kind, value), self._token, kind, value)
        return self._token(kind, value)

    def _token(self, kind: str, value: str | bytes) -> str:
        if isinstance(value, str):
            if TOKEN_RE.fullmatch(value):
                return value
            raw = value.encode("utf-8", "surrogatepass")
        else:
            raw = bytes(value)
        digest = hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:8]
        return f"[REDACTED {_kind_label(kind)} #{digest}]"

    def _url_token(self, kind: str, value: str) -> str:
        return quote(self.token(kind, value), safe="[]")

    def _userinfo_token(self, value: str) -> str:
        # Brackets fully escaped: urllib reads any "[...]" in a netloc as an IPv6 host and raises.
        return quote(self.token("userinfo", value), safe="")

    # ---- structure -------------------------------------------------------------------------
    def headers(self, headers: Iterable[tuple[str, str]] | Iterable[list[str]]) -> list[tuple[str, str]]:
        """Redact credential headers by name (cookie names kept), URLs in Referer/Location, patterns elsewhere."""
        out: list[tuple[str, str]] = []
        for name, value in headers:
            name, value = str(name), str(value)
            low = name.strip().lower()
            if low == "cookie":
                value = self._cookie(value, "cookie")
            elif low == "set-cookie":
                value = self._set_cookie(value)
            elif low in ("authorization", "proxy-authorization"):
                value = self._authorization(low, value)
            elif is_secret_header(low):
                value = value if TOKEN_RE.fullmatch(value) else self.token(low, value)
            elif low in _URL_HEADERS:
                value = self.url(value)
            elif low in ("host", ":authority"):
                value = self.authority(value)
            else:
                value = self.text(value)
            out.append((name, value))
        return out

    def _authorization(self, kind: str, value: str) -> str:
        scheme, sep, cred = value.strip().partition(" ")
        if sep and scheme.isalpha() and len(scheme) <= 20:
            cred = cred.strip()
            return f"{scheme} {cred if TOKEN_RE.fullmatch(cred) else self.token(kind, cred)}"
        return value if TOKEN_RE.fullmatch(value) else self.token(kind, value)

    def _cookie(self, value: str, kind: str) -> str:
        parts = []
        for crumb in value.split(";"):
            name, eq, val = crumb.strip().partition("=")
            if not eq:
                parts.append(self.token(kind, name) if name and not TOKEN_RE.fullmatch(name) else name)
            else:
                parts.append(f"{name}={self.token(kind, val)}")
        return "; ".join(p for p in parts if p)

    def _set_cookie(self, value: str) -> str:
        first, *attrs = value.split(";")
        name, eq, val = first.strip().partition("=")
        head = f"{name}={self.token('set-cookie', val)}" if eq else self.token("set-cookie", name)
        kept = []
        for attr in attrs:
            attr_name, _, _ = attr.strip().partition("=")
            kept.append(attr.strip() if attr_name.lower() in _COOKIE_ATTRIBUTES else self.token("set-cookie", attr.strip()))
        return "; ".join([head, *kept])

    def query_pairs(self, pairs: Iterable[tuple[str, str]] | Iterable[list[str]]) -> list[list[str]]:
        """Redact decoded [key, value] pairs: secret names by structure, other values by pattern."""
        out = []
        for key, value in pairs:
            key, value = str(key), str(value)
            if is_secret_name(key):
                value = self.token(key, value)
            else:
                value = self.string(value)
            out.append([self.text(key), value])
        return out

    def form(self, body: str) -> str:
        """Redact an ``a=1&b=2`` string (form body, query string or fragment), keeping its raw encoding."""
        memo = self._form_pieces
        pieces = []
        for piece in body.split("&"):
            found = memo.get(piece)
            if found is None:
                found = self._form_piece(piece)
                if len(piece) < 256:  # short pieces repeat (v=1, participant=3, the session's token)
                    if len(memo) >= _MAX_REMEMBERED_PIECES:
                        memo.clear()
                    memo[piece] = found
            pieces.append(found)
        return "&".join(pieces)

    def _form_piece(self, piece: str) -> str:
        """One ``key=value`` piece of :meth:`form`, redacted (a pure function of the piece under this key)."""
        raw_key, eq, raw_val = piece.partition("=")
        key = _unquote(raw_key)
        if eq and is_secret_name(key):
            raw_val = raw_val if _URL_TOKEN_RE.fullmatch(raw_val) else self._url_token(key, _unquote(raw_val))
        elif eq:
            decoded = _unquote(raw_val)
            redacted = self.string(decoded)
            if redacted != decoded:
                raw_val = quote(redacted, safe="[]")
        else:
            decoded = _unquote(raw_key)
            redacted = self.text(decoded)
            if redacted != decoded:
                raw_key = quote(redacted, safe="[]")
        return f"{raw_key}{eq}{raw_val}"

    def authority(self, value: str) -> str:
        """A Host header or URL authority: userinfo before the last ``@`` tokenised, host and port kept."""
        if "@" not in value:
            return value
        userinfo, _, hostport = value.rpartition("@")
        if TOKEN_RE.fullmatch(userinfo) or _URL_TOKEN_RE.fullmatch(userinfo):
            return value
        return f"{self._userinfo_token(_unquote(userinfo))}@{hostport}"

    def url(self, url: str) -> str:
        """Redact userinfo, secret query/fragment parameters and token patterns in the path."""
        if _SIP_SCHEME_RE.match(url):  # no "//": the userinfo sits in what urllib calls the path
            return self.text(url)
        bracketed = _BRACKETED_USERINFO_RE.match(url)
        if bracketed:  # tokenised first (an existing token kept), so the URL splits and no part of it leaks
            url = f"{bracketed.group(1)}{self._userinfo_token(_unquote(bracketed.group(2)))}@{url[bracketed.end():]}"
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. a client-controlled host "evil.[x]": still redact the query by name
            head, _, fragment = url.partition("#")
            base, sep, query = head.partition("?")
            out = self.text(base) + (sep + self.form(query) if sep else "")
            return out + ("#" + (self.form(fragment) if "=" in fragment else self.text(fragment)) if fragment else "")
        return self._split_url(url, parts)

    def split_url(self, url: str, parts: SplitResult) -> str:
        """:meth:`url` of ``url`` when the caller has split it already (``parts`` is ``urlsplit(url)``)."""
        if _SIP_SCHEME_RE.match(url) or _BRACKETED_USERINFO_RE.match(url):
            return self.url(url)
        return self._split_url(url, parts)

    def _split_url(self, url: str, parts: SplitResult) -> str:
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            if not _URL_TOKEN_RE.fullmatch(userinfo):
                userinfo = self._userinfo_token(_unquote(userinfo))
            netloc = f"{userinfo}@{hostport}"
        path = parts.path
        decoded_path = _unquote(path)
        if self.text(decoded_path) != decoded_path:
            path = quote(self.text(decoded_path), safe="/[]:@!$&'()*+,;=")
        query = self.form(parts.query) if parts.query else ""
        fragment = self.form(parts.fragment) if "=" in parts.fragment else self.text(parts.fragment)
        out = f"{parts.scheme}:" if parts.scheme else ""
        if parts.netloc or parts.scheme in ("http", "https", "ws", "wss"):
            out += f"//{netloc}"
        out += path
        if parts.query or url.rstrip("#").endswith("?"):
            out += f"?{query}"
        if parts.fragment:
            out += f"#{fragment}"
        return out

    def json(self, obj: Any, _depth: int = 0, _within: str | None = None) -> Any:
        """Redact a parsed JSON value: secret keys by name, every string inside a credentials object or
        array, TURN iceServers creds, then JSON, URLs and base64 nested in strings, then patterns."""
        if obj is None or isinstance(obj, (bool, int, float)):
            return obj
        if _depth > _MAX_DEPTH:
            return self.token("deep-json", repr(obj)[:100000])
        if isinstance(obj, dict):
            turn = "credential" in obj or "urls" in obj
            out = {}
            for key, value in obj.items():
                skey = str(key)
                if (is_secret_name(skey) or (turn and skey.lower() == "username")) and value is not None \
                        and not isinstance(value, (dict, list, bool)):
                    out[key] = self.token(skey, str(value))
                else:
                    within = skey if isinstance(value, (dict, list)) and is_secret_container(skey) else _within
                    out[key] = self.json(value, _depth + 1, within)
            return out
        if isinstance(obj, list):
            return [self.json(v, _depth + 1, _within) for v in obj]
        if isinstance(obj, str):
            return self.token(_within, obj) if _within else self.string(obj, _depth)
        return obj

    def string(self, value: str, _depth: int = 0) -> str:
        """Redact one captured string of unknown shape: JSON, a URL or base64 (of JSON, a form, text)
        inside it by structure, everything else by pattern. Encodings are kept as found."""
        if _depth or len(value) >= 256:
            return self._string(value, _depth)
        return _remembered(self._strings, value, self._string, value, 0)

    def _string(self, value: str, _depth: int) -> str:
        stripped = value.strip()
        if _depth > _MAX_DEPTH:
            return self.token("deep-string", value[:100000])
        if stripped[:1] in ("{", "[") and len(value) < 4_000_000:
            import json

            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                return self.text(value)
            redacted = self.json(inner, _depth + 1)
            if redacted != inner:
                return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))
            return value
        if "://" in stripped[:16] and " " not in stripped:
            return self.url(value)
        # ASCII digits are base64 of bytes no text starts with (the first byte is 0xD0 or more): ids end here
        if len(stripped) < 4_000_000 and not stripped.isdigit() and _BASE64_RE.fullmatch(stripped):
            inner_redacted = self._base64(stripped, _depth)
            if inner_redacted is not None:
                return value.replace(stripped, inner_redacted)
        return self.text(value)

    def _base64(self, value: str, depth: int) -> str | None:
        """Base64 of text with a secret in it: the redacted text, encoded the same way; None otherwise."""
        urlsafe = "-" in value or "_" in value
        decode = base64.urlsafe_b64decode if urlsafe else base64.b64decode
        try:  # random identifiers look like base64 too: their first 6 bytes are rarely all text
            if not all(32 <= b < 127 or b in (9, 10, 13) for b in decode(value[:8])):
                return None
        except (binascii.Error, ValueError):
            return None
        unpadded = value.rstrip("=")
        try:
            raw = decode(unpadded + "=" * (-len(unpadded) % 4))
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):  # not base64 after all, or not UTF-8 text
            return None
        if not decoded.strip() or any(ch < " " and ch not in "\t\r\n" for ch in decoded):
            return None
        if "=" in decoded and "&" in decoded and not decoded.lstrip().startswith(("{", "[")):
            redacted = self.form(decoded)
        else:
            redacted = self.string(decoded, depth + 1)
        if redacted == decoded:
            return None
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(redacted.encode("utf-8")).decode("ascii")
        return encoded if value.endswith("=") else encoded.rstrip("=")

    # ---- patterns --------------------------------------------------------------------------
    def sdes_key(self, key_params: str) -> str:
        """Token of the ``inline:`` master key in an ``a=crypto`` line's key-params: the token :meth:`sdp`
        gives the same key, so they link. Other key methods: a token of all the key-params."""
        match = _INLINE_KEY_RE.search(key_params)
        return self.token("srtp-key", match.group(2) if match else key_params)

    def sdp(self, text: str) -> str:
        """Redact ``a=ice-pwd`` values and SDES ``a=crypto ... inline:`` master keys."""
        text = _ICE_PWD_RE.sub(lambda m: m.group(1) + self.token("ice-pwd", m.group(2)), text)
        return _CRYPTO_RE.sub(lambda m: m.group(1) + self.token("srtp-key", m.group(2)), text)

    def text(self, text: str) -> str:
        """Redact token patterns anywhere in free text (JWT, Bearer/Basic, vendor keys, password=, SDP keys)."""
        if not text or not _maybe_secret_fragment(text):
            return text
        if len(text) >= 256:
            return self._text(text)
        return _remembered(self._texts, text, self._text, text)

    def _text(self, text: str) -> str:
        for kind, pattern in _PATTERNS:
            def tokenize(m: re.Match[str], k: str = kind) -> str:
                return self.token(k, m.group(0))

            text = pattern.sub(tokenize, text)
        text = _AUTH_SCHEME_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{self.token(m.group(1).lower(), m.group(3))}", text)
        text = _USERINFO_RE.sub(self._userinfo_sub, text)
        text = _SIP_PASSWORD_RE.sub(lambda m: m.group(1) + self.token("sip-password", m.group(2)) + "@", text)
        text = _ASSIGNMENT_RE.sub(self._assignment_sub, text)
        return self.sdp(text)

    def _userinfo_sub(self, m: re.Match[str]) -> str:
        userinfo = m.group(2)[:-1]
        if TOKEN_RE.fullmatch(userinfo) or _URL_TOKEN_RE.fullmatch(userinfo):
            return m.group(0)
        return f"{m.group(1)}{self._userinfo_token(_unquote(userinfo))}@"

    def _assignment_sub(self, m: re.Match[str]) -> str:
        end = m.end("val")
        following = m.string[end:end + 1]
        val = m.group("val")
        if following == "]" and m.string[m.start("val") - 1:m.start("val")] == "[":
            return m.group(0)
        if m.string.startswith("[REDACTED", m.start("val")) or val.startswith("%5BREDACTED"):
            return m.group(0)
        return f"{m.group('name')}{m.group('sep')}{self.token(m.group('name'), val)}"


def _unquote(value: str) -> str:
    try:
        return unquote_plus(value, errors="replace")
    except (ValueError, TypeError):
        return value


def _key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "confaudit" / "redaction.key"


def _user_key(path: Path) -> bytes:
    """Read the per-user key, creating it (32 random bytes, hex, mode 0600) atomically on first use."""
    try:
        data = path.read_bytes().strip()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode("ascii") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_bytes().strip()
