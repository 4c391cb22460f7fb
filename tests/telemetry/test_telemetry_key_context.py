"""A field is classified with its parents' names: ``device.cores`` is device data, not "technical".

The leaf decides when it tells something by itself; a leaf that does not (cores, memory, w, v, id ...)
takes the category of the nearest telling parent, and the reason names the keys that decided.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.har_build import analyse_har, explicit_flows, har_entry, write_har

from confaudit.telemetry.taxonomy import classify_key


def _decided(path: str) -> set[tuple[str, str]]:
    return {(m.category, m.reason) for m in classify_key(tuple(path.split(".")))}


@pytest.mark.parametrize(("path", "category", "reason"), [
    # the examples
    ("device.cores", "device", "key:device>cores"),
    ("device.memory", "device", "key:device>memory"),
    ("hw.gpu", "device", "key:gpu"),
    ("screen.w", "screen", "key:screen>w"),
    ("net.type", "network", "key:net>type"),
    ("geo.c", "location", "key:geo>c"),
    ("client.os.v", "os", "key:os>v"),
    ("browser.name", "browser", "key:browser>name"),
    ("user.first", "account", "key:user>first"),
    # envelopes and intermediate keys that tell nothing are passed over; array indices are not keys
    ("context.device.type", "device", "key:device>type"),
    ("events.device.screen.h", "screen", "key:screen>h"),
    ("payload.device.data.cores", "device", "key:device>data>cores"),
    ("properties.user.plan", "account", "key:user>plan"),
    ("user.id.value", "identifier", "key:user>id>value"),
    ("contexts.gpu.vendor_name", "device", "key:gpu>vendor_name"),
    ("battery.level", "device", "key:battery>level"),
    ("navigator.connection.type", "network", "key:connection>type"),
    ("tz.offset", "timezone", "key:tz>offset"),
    ("user.geo.region", "location", "key:geo>region"),
    ("mic.level", "audio_metrics", "key:mic>level"),
    ("screen.name", "usage", "key:screen>name"),
    # a parent is known by its last words, plurals included
    ("deviceInfo.cores", "device", "key:deviceInfo>cores"),
    ("clientDevice.memory", "device", "key:clientDevice>memory"),
    ("networkInformation.type", "network", "key:networkInformation>type"),
    ("user_agent.original", "browser", "key:user_agent>original"),
    ("devices.model_id", "device", "key:devices>model_id"),
    ("rooms.name", "room_name", "key:rooms>name"),
    ("events.type", "usage", "key:events>type"),
    # one compound key: the words before a generic last word, or a whole telling prefix, decide
    ("deviceCores", "device", "key:deviceCores"),
    ("screen_w", "screen", "key:screen_w"),
    ("device_manufacturer", "device", "key:device_manufacturer"),
    ("location_lat", "location", "key:location_lat"),
    ("geo_accuracy", "location", "key:geo_accuracy"),
    ("screen_density", "screen", "key:screen_density"),
    ("user_plan", "account", "key:user_plan"),
    ("userFirstName", "account", "key:userFirstName"),
    ("userAgentVersion", "browser", "key:userAgentVersion"),
    ("userCountry", "location", "key:userCountry"),
    # a specific leaf wins over its parent ...
    ("device.timezone", "timezone", "key:timezone"),
    ("device.language", "locale", "key:language"),
    ("user.ip_address", "network", "key:ip_address"),
    ("contexts.device.screen_resolution", "screen", "key:screen_resolution"),
    # ... unless the parent names that very key: whose e-mail, whose display name
    ("participants.email", "participants", "key:participants>email"),
    ("attendees.displayName", "participants", "key:attendees>displayName"),
    ("room.displayName", "room_name", "key:room>displayName"),
    ("contexts.culture.display_name", "locale", "key:culture>display_name"),
    ("context.userAgentData.mobile", "device", "key:userAgentData>mobile"),
])
def test_generic_leaves_take_the_nearest_telling_parent(path: str, category: str, reason: str) -> None:
    assert _decided(path) == {(category, reason)}


@pytest.mark.parametrize("path", [
    "cores", "v", "type", "memory",                                # no parent at all
    "id.name", "id.type", "data.type", "data.id", "context.app.name",  # parents that tell nothing
    "context.library.version", "sdk.name", "client.version", "properties.settings.theme",
    "location.href", "window.location.pathname", "locationHref",   # window.location is a URL, not a place
    "room.capacity", "room.settings.name", "meeting.settings.muteOnEntry", "user.rooms.capacity",
    "roomCapacity", "chatEnabled", "screenShareId", "screen.id",   # the nearest telling parent does not claim it
    "peerConnection.id", "peerConnection.iceConnectionState", "performance.memory.usedJSHeapSize",
    "model.name", "error.message", "contexts.trace.trace_id",
])
def test_parents_that_tell_nothing_or_do_not_claim_the_key_leave_it_technical(path: str) -> None:
    assert _decided(path) == set()


PAYLOAD = {
    "events": [{"name": "joined", "device": {"cores": 8, "memory": 16, "timezone": "Europe/Lisbon"},
                "hw": {"gpu": "ANGLE (Apple, Apple M1, OpenGL 4.1)"}, "screen": {"w": 1512, "h": 982},
                "net": {"type": "wifi"}, "geo": {"c": "PT"},
                "client": {"os": {"v": "14.1"}, "version": "5.2.0"},
                "browser": {"name": "Chrome"}, "user": {"first": "Ada", "id": {"value": "u-42"}},
                "context": {"app": {"name": "rooms-web"}}, "id": {"type": "uuid"},
                "location": {"href": "https://rooms.example/lobby"}, "room": {"capacity": 10}}],
}


def test_har_body_fields_are_classified_in_context_through_the_analysis(tmp_path: Path) -> None:
    har = write_har(tmp_path / "beacon.har", [har_entry("https://telemetry.tracker.test/v1/batch",
                                                        json.dumps(PAYLOAD), "application/json")])
    flows = explicit_flows(analyse_har(har))
    expected = {
        "events[0].device.cores": ("device", "key:device>cores"),
        "events[0].device.memory": ("device", "key:device>memory"),
        "events[0].device.timezone": ("timezone", "key:timezone"),
        "events[0].hw.gpu": ("device", "key:gpu"),
        "events[0].screen.w": ("screen", "key:screen>w"),
        "events[0].net.type": ("network", "key:net>type"),
        "events[0].geo.c": ("location", "key:geo>c"),
        "events[0].client.os.v": ("os", "key:os>v"),
        "events[0].browser.name": ("browser", "key:browser>name"),
        "events[0].user.first": ("account", "key:user>first"),
        "events[0].user.id.value": ("identifier", "key:user>id>value"),
    }
    for path, (category, reason) in expected.items():
        assert flows[path] == {category: [reason]}, path
    for path in ("events[0].client.version", "events[0].context.app.name", "events[0].id.type",
                 "events[0].location.href", "events[0].room.capacity"):
        assert flows[path] == {"technical": ["default"]}, path
