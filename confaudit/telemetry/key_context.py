"""The category a field gets from the keys above it: ``device.cores`` is device data, ``user.first`` account data.

A leaf key such as ``cores``, ``w``, ``name``, ``v`` or ``id`` says nothing by itself; the nearest parent
key whose name is *telling* (``device``, ``screen``, ``geo``, ``user`` ...) decides, through that
parent's table: an entry for the child key under it, else ``*`` for any child that says nothing
itself, else nothing (the nearest telling parent owns the meaning, so a farther one is not asked).
Envelope keys (``context``, ``properties``, ``payload``, ``data``), array indices and keys that tell
nothing (``id``, ``settings``) are passed over. Pure functions over tables, cached by key path.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    from confaudit.evidence_model import DataCategory

    Categories: TypeAlias = tuple[DataCategory, ...]
    """The categories a key gives (empty: technical)."""

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

DEVICE: Categories = ("device",)
OS: Categories = ("os",)
BROWSER: Categories = ("browser",)
SCREEN: Categories = ("screen",)
LOCALE: Categories = ("locale",)
TIMEZONE: Categories = ("timezone",)
NETWORK: Categories = ("network",)
LOCATION: Categories = ("location",)
IDENTIFIER: Categories = ("identifier",)
ACCOUNT: Categories = ("account",)
CONTACT: Categories = ("contact",)
USAGE: Categories = ("usage",)
ROOM: Categories = ("room_name",)
PARTICIPANTS: Categories = ("participants",)
AUDIO: Categories = ("audio_metrics",)
CONTENT: Categories = ("content",)
TECHNICAL: Categories = ()

ID_LEAVES = ("id", "uuid", "guid", "key", "hash", "identifier", "token")
PERSON_LEAVES = ("name", "displayname", "fullname", "firstname", "lastname", "first", "last", "nickname", "username",
                 "givenname", "familyname", "surname", "email", "emailaddress", "phone", "phonenumber", "avatar",
                 "avatarurl", "picture", "photo")
ROOM_LEAVES = ("id", "name", "displayname", "title", "topic", "subject", "code", "number", "url", "link", "slug",
               "label", "alias", "key")
URL_PARTS = ("href", "pathname", "path", "search", "hash", "host", "hostname", "origin", "protocol", "port", "url",
             "ancestororigins", "x", "y", "top", "left", "right", "bottom")


def _ids(cats: Categories = IDENTIFIER) -> dict[str, Categories]:
    return dict.fromkeys(ID_LEAVES, cats)


# Telling parent names (lower-case, separators removed) -> {child key: categories, "*": any other child
# that says nothing by itself}. An explicit entry also wins over a leaf that tells something on its own
# (``participants[].email`` is about a participant); an empty tuple keeps a child technical.
PARENTS: dict[str, dict[str, Categories]] = {
    **dict.fromkeys(("device", "machine", "camera", "mediadevice"), {**_ids(), "mobile": DEVICE, "*": DEVICE}),
    **dict.fromkeys(("hw", "hardware", "gpu", "cpu", "battery", "webgl"), {"*": DEVICE}),
    **dict.fromkeys(("mic", "microphone"), {**dict.fromkeys(("level", "volume", "gain", "energy"), AUDIO),
                                            **_ids(), "*": DEVICE}),
    "audio": dict.fromkeys(("level", "volume", "energy", "gain"), AUDIO),
    "screen": {**dict.fromkeys(("name", "title", "view"), USAGE),  # a screen in an app: what was looked at
               **dict.fromkeys(("id", "class", "path", "route"), TECHNICAL), "*": SCREEN},
    **dict.fromkeys(("display", "viewport", "monitor", "resolution"), {"mode": TECHNICAL, "*": SCREEN}),
    "window": dict.fromkeys(("width", "height", "w", "h", "innerwidth", "innerheight", "outerwidth", "outerheight"),
                            SCREEN),
    **dict.fromkeys(("os", "operatingsystem", "platform"), {"*": OS}),
    **dict.fromkeys(("browser", "ua", "useragent", "navigator", "uach"), {**_ids(), "mobile": DEVICE, "*": BROWSER}),
    **dict.fromkeys(("net", "network", "ip", "wifi", "carrier", "isp"), {"id": TECHNICAL, "*": NETWORK}),
    "connection": dict.fromkeys(("type", "kind", "savedata", "metered", "class"), NETWORK),
    **dict.fromkeys(("geo", "geoip", "geolocation", "coords", "coordinates", "gps", "country", "city", "postal"),
                    {"*": LOCATION}),
    "location": {**dict.fromkeys(URL_PARTS, TECHNICAL), "*": LOCATION},  # window.location is a URL
    **dict.fromkeys(("locale", "language", "lang", "i18n"), {"*": LOCALE}),
    "culture": {"displayname": LOCALE, "timezone": TIMEZONE, "*": LOCALE},  # "English (United States)"
    **dict.fromkeys(("timezone", "tz"), {"*": TIMEZONE}),
    **dict.fromkeys(("install", "installation", "advertising", "visitor", "anonymous", "anon", "client", "session",
                     "tracking", "instance"), _ids()),
    "fingerprint": {"*": IDENTIFIER},
    **dict.fromkeys(("user", "profile", "me", "person", "customer", "traits", "identity"),
                    {**_ids(), "agent": BROWSER, "*": ACCOUNT}),
    "account": {"*": ACCOUNT},
    **dict.fromkeys(("email", "phone"), {"*": ACCOUNT}),
    **dict.fromkeys(("owner", "host", "organizer", "organiser", "creator", "author", "sender"),
                    dict.fromkeys(PERSON_LEAVES, ACCOUNT)),
    **dict.fromkeys(("contact", "contacts", "addressbook", "friend", "friends", "buddy", "buddies", "follower",
                     "followers", "phonebook"), {**dict.fromkeys(PERSON_LEAVES, CONTACT), "*": CONTACT}),
    **dict.fromkeys(("participant", "participants", "attendee", "attendees", "member", "members", "roster", "peer",
                     "peers", "invitee", "invitees"), {**dict.fromkeys(PERSON_LEAVES, PARTICIPANTS), "*": PARTICIPANTS}),
    **dict.fromkeys(("room", "meeting", "conference", "webinar", "space"), dict.fromkeys(ROOM_LEAVES, ROOM)),
    **dict.fromkeys(("chat", "message", "msg", "comment"),
                    dict.fromkeys(("text", "body", "content", "message", "msg", "html", "markdown"), CONTENT)),
    **dict.fromkeys(("transcript", "transcription", "caption", "captions", "subtitle", "subtitles"),
                    {"id": TECHNICAL, "*": CONTENT}),
    "event": dict.fromkeys(("name", "type", "action", "category", "label"), USAGE),
    "page": dict.fromkeys(("title", "url", "path"), USAGE),
}

# Generic last words of one compound key (deviceId, screen_w, userFirstName): the words before them decide.
GENERIC_LEAVES = frozenset(("id", "uuid", "guid", "key", "hash", "name", "names", "first", "last", "full", "short",
                            "width", "height", "w", "h", "size", "version", "ver", "v", "major", "minor", "type",
                            "kind", "class", "value", "level", "model", "vendor", "brand", "family", "title", "code",
                            "string", "label", "list", "count", "number", "text", "body", "address", "cores",
                            "memory", "c", "cc"))

# Words around a telling name that do not change it (deviceInfo, geo_data, networkInformation, user_properties).
FILLER_WORDS = frozenset(("info", "information", "data", "details", "detail", "props", "properties", "property",
                          "attributes", "attrs", "attr", "meta", "metadata", "context", "ctx", "specs", "spec", "obj",
                          "object", "params", "fields", "payload", "summary"))


@lru_cache(maxsize=65536)
def _key_words(key: str) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[^a-z0-9]+", _CAMEL_RE.sub("_", key).lower()) if w)


def key_words(key: str) -> list[str]:
    """``userEmail`` -> ['user', 'email']; ``x-client-tz`` -> ['x', 'client', 'tz']."""
    return list(_key_words(key[:200]))


def _table(name: str) -> dict[str, Categories] | None:
    """The table of a telling name, plurals included (devices, rooms, events)."""
    table = PARENTS.get(name)
    if table is None and len(name) > 3 and name.endswith("s"):
        table = PARENTS.get(name[:-1])
    return table


@lru_cache(maxsize=16384)
def parent_table(key: str) -> dict[str, Categories] | None:
    """The table of a parent key when its name is telling, by its head (last) words: ``deviceInfo``,
    ``clientDevice`` and ``user_agent`` are telling; ``id``, ``data``, ``settings``, ``peerStats`` are not."""
    words = [w for w in _key_words(key[:200]) if w not in FILLER_WORDS]
    for start in range(len(words)):  # longest head first: user_agent before agent
        table = _table("".join(words[start:]))
        if table is not None:
            return table
    return None


def _child_name(key: str) -> str:
    return "".join(_key_words(key[:200]))


def from_leaf_words(leaf: str) -> tuple[Categories, str] | None:
    """One compound key whose last word says nothing alone: a telling name before it decides, the whole rest
    (``device_manufacturer``, ``location_lat``) or, when the last word is generic (``deviceId``,
    ``userFirstName``), the nearest telling words."""
    words = [w for w in _key_words(leaf[:200]) if w not in FILLER_WORDS]
    if len(words) < 2:
        return None
    table = _table("".join(words[:-1]))
    if table is not None:
        return (table.get(words[-1], table.get("*")) or TECHNICAL), f"key:{leaf[:60]}"
    if words[-1] not in GENERIC_LEAVES:
        return None
    for end in range(len(words) - 1, 0, -1):  # nearest words first, the longest name ending there first
        for start in range(end):
            table = _table("".join(words[start:end]))
            if table is not None:
                chosen = table.get(words[-1], table.get("*"))
                return (chosen or TECHNICAL), f"key:{leaf[:60]}"
    return None


def from_parents(keys: tuple[str, ...], explicit_only: bool) -> tuple[Categories, str] | None:
    """(categories, reason) from the nearest telling parent key, or None when no parent tells anything.

    ``explicit_only``: the leaf tells something by itself, so only an entry naming its child overrides it
    (``participants[].email``), never ``*`` (``device.timezone`` stays timezone).
    """
    for index in range(len(keys) - 2, -1, -1):
        table = parent_table(keys[index])
        if table is None:
            continue
        below = [k for k in keys[index + 1:] if any(w not in FILLER_WORDS for w in _key_words(k[:200]))]
        child = _child_name(below[0] if below else keys[-1])
        chosen = table.get(child)
        if chosen is None and not explicit_only:
            chosen = table.get("*")
        if chosen is None:
            return None
        return chosen, "key:" + ">".join(k[:40] for k in keys[index:])[:80]
    return None
