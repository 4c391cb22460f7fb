"""Data taxonomy: categories by key name, by value shape, and by known values in any encoding."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

import pytest

from confaudit.telemetry.decode import Field
from confaudit.telemetry.fields import classify_field
from confaudit.telemetry.known import KnownMatcher, KnownValue
from confaudit.telemetry.taxonomy import CATEGORIES, classify_key, classify_value

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
NO_KNOWN = KnownMatcher([])


def _cats(keys: tuple[str, ...], value: str, matcher: KnownMatcher = NO_KNOWN) -> set[str]:
    return {m.category for m in classify_field(Field(".".join(keys), keys, value), matcher)}


@pytest.mark.parametrize(("keys", "expected"), [
    (("events", "device", "ua"), {"browser"}),
    (("userAgent",), {"browser"}),
    (("screen", "width"), {"screen"}),
    (("screen_w",), {"screen"}),
    (("viewportHeight",), {"screen"}),
    (("tz",), {"timezone"}),
    (("timezoneOffset",), {"timezone"}),
    (("navigator", "language"), {"locale"}),
    (("device", "id"), {"identifier"}),
    (("deviceId",), {"identifier"}),
    (("install_id",), {"identifier"}),
    (("idfa",), {"identifier"}),
    (("device", "model"), {"device"}),
    (("hardwareConcurrency",), {"device"}),
    (("os", "version"), {"os"}),
    (("platform",), {"os"}),
    (("connection", "effectiveType"), {"network"}),
    (("iceCandidate",), {"network"}),
    (("geo", "lat"), {"location"}),
    (("user", "name"), {"account"}),
    (("userEmail",), {"account"}),
    (("contacts", "list"), {"contact"}),
    (("event", "name"), {"usage"}),
    (("muted",), {"usage"}),
    (("callDuration",), {"usage"}),
    (("room", "name"), {"room_name"}),
    (("meetingId",), {"room_name"}),
    (("participants",), {"participants"}),
    (("attendees", "name"), {"participants"}),
    (("audioLevel",), {"audio_metrics"}),
    (("stats", "isSpeaking"), {"audio_metrics"}),
    (("transcript",), {"content"}),
    (("chat", "text"), {"content"}),
])
def test_key_names(keys: tuple[str, ...], expected: set[str]) -> None:
    assert {m.category for m in classify_key(keys)} == expected


@pytest.mark.parametrize("keys", [("screenShareStarted",), ("buildNumber",), ("roomCapacity",), ("status",),
                                  ("a",), ("v",), ("seq",), ("chatEnabled",), ("type",), ("x", "y"),
                                  ("error", "message"), ("page",), ("left",), ("mac",), ("region",), ("address",),
                                  ("sr",), ("fp",), ("model", "name")])
def test_neutral_keys_have_no_category(keys: tuple[str, ...]) -> None:
    assert {m.category for m in classify_key(keys)} - {"usage"} == set()


@pytest.mark.parametrize(("value", "expected"), [
    (UA, {"browser"}),
    ("alice.smith+test@example.co.uk", {"account"}),
    ("+1 415 555 0100", {"account"}),
    ("+447700900123", {"account"}),
    ("+44 7700 900123", {"account"}),
    ("(020) 7946 0958", {"account"}),
    ("203.0.113.9", {"network"}),
    ("2001:db8::1", {"network"}),
    ("candidate:842163049 1 udp 1677729535 198.51.100.7 54400 typ srflx raddr 0.0.0.0 rport 0 generation 0", {"network"}),
    ("America/Los_Angeles", {"timezone"}),
    ("1920x1080", {"screen"}),
])
def test_value_shapes(value: str, expected: set[str]) -> None:
    assert {m.category for m in classify_value(value)} == expected


@pytest.mark.parametrize("value", ["1732523452123", "120.0.6099.109", "true", "ok", "en", "3.14159", "abc-def",
                                  "2026-11-25T08:00:00Z", "4f3c2a1b9d8e7f60", "user@", "12345678"])
def test_control_values_have_no_category(value: str) -> None:
    assert classify_value(value) == []


def test_candidate_reports_local_and_public_scope() -> None:
    host = "candidate:1 1 udp 2122260223 192.168.1.20 51000 typ host"
    srflx = "candidate:2 1 udp 1686052607 198.51.100.7 51000 typ srflx raddr 192.168.1.20 rport 51000"
    reasons = [m.reason for m in classify_value(host)] + [m.reason for m in classify_value(srflx)]
    assert reasons == ["value:ice-candidate host:private", "value:ice-candidate srflx:public"]


def test_version_strings_are_not_ip_addresses() -> None:
    assert classify_value("1.2.3.4", ("appVersion",)) == []
    assert classify_value("1.2.3.4", ("peer",))[0].reason == "value:ip-address public"


EMAIL = "Alice.Smith@example.org"


@pytest.mark.parametrize(("encoded", "encoding"), [
    (EMAIL, "plain"),
    (quote(EMAIL, safe=""), "url"),
    (base64.b64encode(EMAIL.encode()).decode(), "base64"),
    (hashlib.md5(EMAIL.encode()).hexdigest(), "md5"),
    (hashlib.sha1(EMAIL.lower().encode()).hexdigest().upper(), "sha1-lower"),
    (hashlib.sha256(EMAIL.lower().encode()).hexdigest(), "sha256-lower"),
    (base64.b64encode(hashlib.sha256(EMAIL.encode()).digest()).decode(), "sha256-base64"),
])
def test_hashed_email_trick(encoded: str, encoding: str) -> None:
    matcher = KnownMatcher([KnownValue("account", "email", EMAIL)])
    matches = matcher.match(f"prefix:{encoded}")
    assert [m.category for m in matches] == ["account"]
    assert matches[0].reason.startswith("known:email")
    if encoding != "plain":
        assert matches[0].reason == f"known:email {encoding}"


def test_room_and_participants_match_on_token_boundaries() -> None:
    matcher = KnownMatcher([KnownValue("room_name", "room_name", "team"),
                            KnownValue("participants", "participant", "Bob Jones")])
    assert _cats(("r",), "https://rooms.test/r/team?x=1", matcher) == {"room_name"}
    assert _cats(("q",), "teamwork", matcher) == {"technical"}
    assert _cats(("who",), "bob jones,carol", matcher) == {"participants"}
    assert _cats(("who",), base64.b64encode(b"Bob Jones").decode(), matcher) == {"participants"}
    assert _cats(("who",), hashlib.sha256(b"bob jones").hexdigest(), matcher) == {"participants"}


def test_one_field_may_carry_several_categories() -> None:
    matcher = KnownMatcher([KnownValue("room_name", "room_name", "Design Review")])
    assert _cats(("meetingName",), "Design Review", matcher) == {"room_name"}
    assert _cats(("profile",), f"{UA} alice@example.org", matcher) == {"browser", "account"}


def test_everything_else_is_technical_and_all_categories_are_known() -> None:
    assert _cats(("build",), "4.2.1") == {"technical"}
    for keys, value in [(("ua",), UA), (("x",), "203.0.113.9")]:
        assert _cats(keys, value) <= set(CATEGORIES)


@pytest.mark.parametrize("keys", [(), ("phone",), ("ts",), ("ip",), ("screen",), ("tz",), ("ua",)])
def test_no_value_shape_matches_digits_alone_so_they_can_skip_the_shape_tests(keys: tuple[str, ...]) -> None:
    from confaudit.telemetry.taxonomy import _PHONE_RE, _shape_matches

    samples = ["00", "12", "127", "1920", "19201080", "15551234567", "441234567890", "1795597200", "3735928559",
               "10000000000000000000000", "١٢٣٤٥٦٧٨٩٠", "１２３４５６７８", "0" * 24, "9" * 45]
    for text in samples:
        assert text.isdigit()
        assert _shape_matches(text, keys) == [], text  # what classify_value's digit shortcut skips
        assert _PHONE_RE.match(text) is None, text  # what _phone_shaped's digit shortcut skips
