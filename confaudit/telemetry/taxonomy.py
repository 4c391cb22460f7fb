"""Data taxonomy: which personal-data categories a field carries, by key name and by value.

The category names are a contract (docs/taxonomy.md). Decisions are small pure functions over
tables; a field may yield several categories. ``technical`` means "none of the others".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from confaudit.telemetry.key_context import from_leaf_words, from_parents, key_words

if TYPE_CHECKING:
    from confaudit.evidence_model import DataCategory

CATEGORIES: tuple[DataCategory, ...] = (
    "device", "os", "browser", "screen", "locale", "timezone", "network", "location", "identifier",
    "account", "contact", "usage", "room_name", "participants", "audio_metrics", "content", "technical",
)


@dataclass(frozen=True)
class Match:
    """One reason a field belongs to a category."""

    category: DataCategory
    """A name from CATEGORIES."""
    reason: str
    """How it was decided: ``key:<name>``, ``value:email``, ``known:room_name sha256`` ..."""


# Whole key names (lower-case, separators removed) -> categories.
KEY_NAMES: dict[str, tuple[DataCategory, ...]] = {
    **dict.fromkeys(("ua", "useragent", "navigatoruseragent", "browser", "browsername", "browserversion",
                     "browserfamily", "secchua", "appversion", "appcodename", "uastring", "uafullversion"),
                    ("browser",)),
    **dict.fromkeys(("os", "osname", "osversion", "platform", "platformversion", "osfamily", "operatingsystem",
                     "secchuaplatform", "oscpu", "systemversion"), ("os",)),
    **dict.fromkeys(("device", "devicemodel", "model", "manufacturer", "devicetype", "devicename", "hardware",
                     "hardwareconcurrency", "devicememory", "cpu", "cpucores", "gpu", "renderer", "webglrenderer",
                     "webglvendor", "maxtouchpoints", "touchpoints", "devicebrand", "devicefamily",
                     "secchuamodel", "battery", "batterylevel", "physmemory", "physicalmemory", "totalmemory", "ram",
                     "arch", "cpuarch", "architecture", "cpuarchitecture", "gpuvendor", "gpumodel", "cameras",
                     "microphones", "mediadevices",
                     "audiodevice", "videodevice", "micname", "cameraname", "devicelabel"), ("device",)),
    **dict.fromkeys(("screen", "screensize", "screenresolution", "resolution", "screenwidth", "screenheight",
                     "viewport", "viewportwidth", "viewportheight", "innerwidth", "innerheight", "availwidth",
                     "availheight", "colordepth", "pixeldepth", "dpr", "devicepixelratio", "pixelratio",
                     "orientation"), ("screen",)),
    **dict.fromkeys(("locale", "language", "languages", "lang", "hl", "ul", "acceptlanguage",
                     "preferredlanguage", "uilanguage"), ("locale",)),
    **dict.fromkeys(("tz", "timezone", "tzoffset", "timezoneoffset", "utcoffset", "tzname", "timezonename",
                     "gmtoffset"), ("timezone",)),
    **dict.fromkeys(("ip", "ipaddress", "ipaddr", "localip", "publicip", "remoteip", "clientip", "candidate",
                     "candidates", "icecandidate", "icecandidates", "localcandidate", "remotecandidate",
                     "connectiontype", "effectivetype", "downlink", "downlinkmax", "rtt", "networktype", "carrier",
                     "ssid", "bssid", "wifi", "macaddress", "network", "isp", "asn", "ect", "nettype",
                     "srflx", "relayprotocol"), ("network",)),
    **dict.fromkeys(("lat", "latitude", "lng", "lon", "longitude", "geo", "geolocation", "city", "country",
                     "countrycode", "postal", "postalcode", "zip", "zipcode", "location", "coords",
                     "gps", "subdivision"), ("location",)),
    **dict.fromkeys(("deviceid", "installid", "installationid", "advertisingid", "adid", "idfa", "idfv", "gaid",
                     "aaid", "visitorid", "anonymousid", "anonid", "clientid", "cid", "uid", "uuid", "guid",
                     "fingerprint", "browserid", "machineid", "trackingid", "distinctid", "amplitudeid",
                     "deviceuuid", "userid", "externalid", "persistentid", "cookieid", "fbp", "fbc",
                     "gclid", "fbclid", "canvashash", "audiohash", "fingerprinthash", "ajsanonymousid", "ajsuserid", "sessionuuid", "instanceid", "appinstanceid"),
                    ("identifier",)),
    **dict.fromkeys(("email", "emailaddress", "mail", "phone", "phonenumber", "mobile", "msisdn", "tel",
                     "firstname", "lastname", "fullname", "displayname", "username", "login", "accountname",
                     "accountid", "surname", "givenname", "familyname", "birthday", "dob", "gender", "age",
                     "profilename", "nickname", "avatar", "avatarurl"), ("account",)),
    **dict.fromkeys(("em", "hashedemail", "emailhash", "emailsha256", "emailmd5", "ph", "hashedphone",
                     "phonehash"), ("account", "identifier")),
    **dict.fromkeys(("contacts", "contact", "addressbook", "friends", "buddies", "followers", "invitees",
                     "phonebook", "contactlist"), ("contact",)),
    **dict.fromkeys(("event", "events", "eventname", "eventtype", "action", "actions", "click", "clicks",
                     "join", "joined", "jointime", "leave", "leavetime", "mute", "muted", "unmute",
                     "ismuted", "audiomuted", "videomuted", "duration", "callduration", "pageview", "screenview",
                     "interaction", "interactions", "ec", "ea", "el", "en", "tap", "scroll", "keypress",
                     "buttonclicked", "pagetitle", "dl", "dp", "handraised", "reaction", "reactions",
                     "screenshare", "cameraon", "micon", "timespent", "engagementtime", "participantcount",
                     "numparticipants"), ("usage",)),
    **dict.fromkeys(("room", "roomname", "roomid", "roomtitle", "roomurl", "meeting", "meetingid", "meetingname",
                     "meetingtitle", "meetingnumber", "conference", "conferencename", "conferenceid",
                     "callname", "channelname", "roomcode", "meetingcode", "spacename", "spaceid"),
                    ("room_name",)),
    **dict.fromkeys(("participants", "participant", "participantnames", "participantname",
                     "attendees", "attendee", "members", "member", "roster", "peers", "peername", "peernames",
                     "invitedusers", "speakers", "speakername", "participantlist"), ("participants",)),
    **dict.fromkeys(("audiolevel", "audiolevels", "volume", "speaking", "isspeaking", "speakingwhilemuted",
                     "vad", "voiceactivity", "voiceactivitydetected", "loudness", "miclevel", "microphonelevel",
                     "inputlevel", "inputvolume", "audioenergy", "totalaudioenergy", "energy", "rms", "dbfs",
                     "noiselevel", "backgroundnoise", "speechdetected", "talking", "istalking", "audioinputlevel",
                     "micvolume", "voicelevel", "totalsamplesduration"), ("audio_metrics",)),
    **dict.fromkeys(("chat", "chatmessage", "transcript", "transcription",
                     "caption", "captions", "subtitle", "subtitles",                      "whiteboard", "chattext", "messagetext", "utterance"),
                    ("content",)),
}

# Short parameter names of widespread beacons (GA4 /g/collect, Google Ads, Meta Pixel /tr advanced
# matching, Mixpanel): documented by their vendors, too short to guess from words.
BEACON_KEYS: dict[str, tuple[DataCategory, ...]] = {
    "uafvl": ("browser",), "uap": ("os",), "uapv": ("os",), "uam": ("device",), "uaa": ("device",),
    "uab": ("device",), "uaw": ("device",), "uamb": ("device",), "sw": ("screen",), "sh": ("screen",),
    "uw": ("screen",), "uh": ("screen",), "biw": ("screen",), "bih": ("screen",), 
    "utz": ("timezone",), "ev": ("usage",), "udem": ("account", "identifier"), "udph": ("account", "identifier"),
    "udfn": ("account",), "udln": ("account",), "udge": ("account",), "uddb": ("account",),
    "udct": ("location",), "udst": ("location",), "udzp": ("location",), "udcountry": ("location",),
    "udexternalid": ("identifier",), "sid": ("identifier",), "sessionid": ("identifier",),
    "distinctid": ("identifier",), "deviceid": ("identifier",), "mpcountrycode": ("location",),
}
KEY_NAMES.update(BEACON_KEYS)

# Single words that decide a category wherever they appear inside a compound key (userEmail, geo_city).
KEY_WORDS: dict[str, tuple[DataCategory, ...]] = {
    "email": ("account",), "phone": ("account",), "msisdn": ("account",), "useragent": ("browser",),
    "timezone": ("timezone",), "locale": ("locale",), "latitude": ("location",), "longitude": ("location",),
    "geo": ("location",), "idfa": ("identifier",), "fingerprint": ("identifier",), "candidate": ("network",),
    "ip": ("network",), "transcript": ("content",), "participants": ("participants",),
    "participant": ("participants",), "attendees": ("participants",),
    "viewport": ("screen",), "resolution": ("screen",), "speaking": ("audio_metrics",), "tz": ("timezone",),
    "language": ("locale",),
    "loudness": ("audio_metrics",), "contacts": ("contact",),
}

EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
_PHONE_RE = re.compile(r"^(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,6}(?:[\s.\-]\d{2,6}){1,4}$|^\+\d{8,15}$")
_UA_RE = re.compile(r"\bMozilla/\d\.\d \(|\b(?:AppleWebKit|Gecko|Chrome|Firefox|Safari|Edg|OPR)/\d+[.\d]*\b.*\b(?:AppleWebKit|Gecko|Chrome|Firefox|Safari|Mobile|Version)/")
_CANDIDATE_RE = re.compile(r"\bcandidate:\S+ \d+ (?:udp|tcp) \d+ (\S+) \d+ typ (host|srflx|prflx|relay)", re.I)
_IPV4_IN_TEXT = re.compile(r"(?<![\w./\-])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_TZ_RE = re.compile(r"^(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Za-z_+\-0-9/]{2,40}$")
_SCREEN_RE = re.compile(r"^\d{3,5}\s?[x×*]\s?\d{3,5}(?:\s?[x×*]\s?\d{1,2})?$")
_IP_CHARS = re.compile(r"^[0-9A-Fa-f:.]+$")
_VERSION_WORDS = {"version", "ver", "v", "build", "release", "sdk", "appversion", "osversion", "browserversion"}


def classify_key(keys: tuple[str, ...]) -> list[Match]:
    """Categories implied by the field's key path (nearest key last): the leaf's own name first; a leaf that
    says nothing alone (``cores``, ``w``, ``v``, ``id``) takes them from the nearest telling parent
    (``device.cores`` -> device, reason ``key:device>cores``); see :mod:`confaudit.telemetry.key_context`."""
    return list(_classify_keys(tuple(k[:200] for k in keys))) if keys else []


@lru_cache(maxsize=65536)
def _classify_keys(keys: tuple[str, ...]) -> tuple[Match, ...]:
    leaf = keys[-1]
    own = _leaf_categories(leaf)
    decided = None if own else from_leaf_words(leaf)
    if decided is None:
        decided = from_parents(keys, explicit_only=bool(own))
    if decided is not None:
        categories, reason = decided
        return tuple(Match(c, reason) for c in categories)
    return tuple(Match(c, f"key:{leaf[:60]}") for c in own)


def _leaf_categories(leaf: str) -> tuple[DataCategory, ...]:
    """What a key name tells by itself: a whole known name, an ``X-`` header name, or telling words in it."""
    words = key_words(leaf)
    joined = "".join(words)
    if joined in KEY_NAMES:
        return KEY_NAMES[joined]
    if joined.startswith("x") and joined[1:] in KEY_NAMES:  # X-Client-Timezone style headers
        return KEY_NAMES[joined[1:]]
    cats: list[DataCategory] = []
    for word in words:
        for cat in KEY_WORDS.get(word, ()):
            if cat not in cats:
                cats.append(cat)
    if not cats and len(words) > 1 and len(words[-1]) > 2:  # the last word names the thing: userCountry
        return KEY_NAMES.get(words[-1], ())
    return tuple(cats)


def classify_value(value: str, keys: tuple[str, ...] = ()) -> list[Match]:
    """Categories implied by the value's shape (user agent, e-mail, phone, IP, ICE candidate, tz...)."""
    if not value or len(value) > 20000:
        return []
    text = value.strip()
    if text.isdigit():  # ids, counters and times: no shape below matches digits alone (tests check each)
        return []
    return _shape_matches(text, keys)


def _shape_matches(text: str, keys: tuple[str, ...]) -> list[Match]:
    out: list[Match] = []
    if _UA_RE.search(text):
        out.append(Match("browser", "value:user-agent"))
    if EMAIL_RE.search(text):
        out.append(Match("account", "value:email"))
    leaf_words = set(key_words(keys[-1])) if keys else set()
    if _phone_shaped(text) and _phone_named(text, leaf_words):
        out.append(Match("account", "value:phone"))
    candidates = _CANDIDATE_RE.findall(text)
    if candidates:
        kinds = sorted({f"{typ}:{_ip_scope(addr)}" for addr, typ in candidates})
        out.append(Match("network", "value:ice-candidate " + ",".join(kinds)))
    elif not leaf_words & _VERSION_WORDS and not out:
        scope = _ip_value_scope(text)
        if scope:
            out.append(Match("network", f"value:ip-address {scope}"))
    if _TZ_RE.match(text):
        out.append(Match("timezone", "value:tz-name"))
    if _SCREEN_RE.match(text):
        out.append(Match("screen", "value:screen-size"))
    return out


def is_phone(value: str, keys: tuple[str, ...] = ()) -> bool:
    """Whether :func:`classify_value` finds a phone number (``value:phone``) in ``value``, without its other tests."""
    if not value or len(value) > 20000:
        return False
    text = value.strip()
    return _phone_shaped(text) and _phone_named(text, set(key_words(keys[-1])) if keys else set())


def _phone_shaped(text: str) -> bool:
    """Digits alone are no phone number's shape (a separator or a ``+`` is), so they end at once."""
    return len(text) <= 24 and not text.isdigit() and _PHONE_RE.match(text) is not None \
        and sum(ch.isdigit() for ch in text) >= 8


def _phone_named(text: str, leaf_words: set[str]) -> bool:
    """A phone-shaped value is a phone unless its key names a version, time or id, and if it is written as one
    (``+``, blanks, parentheses) or its key says so."""
    return not leaf_words & (_VERSION_WORDS | {"ts", "time", "timestamp", "date", "id"}) \
        and (text.startswith("+") or any(c in text for c in " ()") or bool(leaf_words & {"phone", "tel", "mobile"}))


def _ip_value_scope(text: str) -> str | None:
    """``public``/``private``/... when the value is an IP address, or short text embedding an IPv4 address."""
    candidate = text.strip("[]").split("%")[0]
    # An address string has three dots (IPv4) or at least two colons (IPv6); only those are worth parsing
    # (a failed parse costs two exceptions, and most short values are numbers and ids).
    if 2 <= len(candidate) <= 45 and (candidate.count(".") == 3 or candidate.count(":") >= 2) \
            and _IP_CHARS.match(candidate):
        try:
            return _ip_scope(str(ipaddress.ip_address(candidate)))
        except ValueError:
            pass
    if "." in text and len(text) <= 200:
        for found in _IPV4_IN_TEXT.findall(text):
            try:
                addr = ipaddress.ip_address(found)
            except ValueError:
                continue
            if not addr.is_unspecified:
                return _ip_scope(str(addr))
    return None


_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"))


def _ip_scope(addr: str) -> str:
    """``private`` (RFC 1918, CGNAT, ULA, link-local), ``loopback``, ``mdns`` or ``public``."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return "mdns" if addr.endswith(".local") else "unknown"
    if ip.is_loopback:
        return "loopback"
    if any(ip.version == net.version and ip in net for net in _PRIVATE_NETS):
        return "private"
    return "public"
