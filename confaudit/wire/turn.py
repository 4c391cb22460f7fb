"""What a TURN Send or Data indication carries (RFC 8656 §11): the DATA attribute of the message.

Media relayed by a TURN server travels either in ChannelData (4-byte header) or, before a channel
is bound or with clients that never bind one, inside Send (client -> relay) and Data (relay ->
client) indications: a STUN message whose DATA attribute (0x0013) holds the peer's datagram.
Microsoft's MS-TURN (Teams, Skype for Business) uses the older draft's Send Request (0x0004) and
Data Indication (0x0115) without the RFC 5389 cookie, marked instead by a MAGIC-COOKIE attribute
(0x000F, value 0x72C64BC6), and may leave attribute values unpadded ([MS-TURN] §2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from confaudit.wire.errors import ParseError

SEND_INDICATION = 0x0016
DATA_INDICATION = 0x0017
MS_SEND_REQUEST = 0x0004
MS_DATA_INDICATION = 0x0115
ATTR_DATA = 0x0013
ATTR_XOR_PEER_ADDRESS = 0x0012
"""XOR-PEER-ADDRESS in RFC 8656; REMOTE-ADDRESS (same number) in MS-TURN."""
ATTR_MS_MAGIC_COOKIE = 0x000F
MAGIC_COOKIE = b"\x21\x12\xa4\x42"
MS_TURN_COOKIE = b"\x72\xc6\x4b\xc6"
_MAX_ATTRIBUTES = 64


@dataclass(frozen=True, slots=True)
class IndicationData:
    """The datagram a Send/Data indication relays."""

    msg_type: int
    """0x0016/0x0004 (Send, client to relay) or 0x0017/0x0115 (Data, relay to client)."""
    offset: int
    """Offset of the DATA value in the STUN message."""
    length: int
    """Length of the DATA value (the relayed datagram)."""
    peer_present: bool
    """An XOR-PEER-ADDRESS (REMOTE-ADDRESS) attribute names the peer (mandatory in both indications)."""
    ms_turn: bool
    """True for Microsoft's MS-TURN framing."""


def indication_data(message: bytes) -> IndicationData | None:
    """Where the relayed datagram sits in a Send/Data indication; None for any other message.

    Raises ParseError when the message claims to be an indication but its attributes do not walk
    to the end (a length past the message, a truncated header) or it has no DATA attribute.
    """
    data = bytes(message)
    if len(data) < 20:
        return None
    msg_type = int.from_bytes(data[0:2], "big")
    if data[4:8] == MAGIC_COOKIE:
        if msg_type not in (SEND_INDICATION, DATA_INDICATION):
            return None
        ms_turn = False
    elif msg_type in (MS_SEND_REQUEST, MS_DATA_INDICATION):
        ms_turn = True
    else:
        return None
    end = 20 + int.from_bytes(data[2:4], "big")
    if end > len(data):
        raise ParseError(f"indication length {end - 20} runs past the {len(data)}-byte message")
    attributes = _walk(data, end, padded=True)
    if attributes is None and ms_turn:
        attributes = _walk(data, end, padded=False)  # MS-TURN may leave values unpadded
    if attributes is None:
        raise ParseError("the attributes of a Send/Data indication do not walk to the end of the message")
    if ms_turn and attributes.get(ATTR_MS_MAGIC_COOKIE, (0, 0))[1] != 4 \
            or ms_turn and data[attributes[ATTR_MS_MAGIC_COOKIE][0]: attributes[ATTR_MS_MAGIC_COOKIE][0] + 4] != MS_TURN_COOKIE:
        return None  # a cookie-less message with those type numbers that is not MS-TURN
    if ATTR_DATA not in attributes:
        raise ParseError("Send/Data indication without a DATA attribute")
    offset, length = attributes[ATTR_DATA]
    return IndicationData(msg_type, offset, length, ATTR_XOR_PEER_ADDRESS in attributes, ms_turn)


def _walk(data: bytes, end: int, padded: bool) -> dict[int, tuple[int, int]] | None:
    """{attribute type: (value offset, value length)} for the first of each type; None unless the walk ends exactly."""
    found: dict[int, tuple[int, int]] = {}
    offset = 20
    for _ in range(_MAX_ATTRIBUTES):
        if offset == end:
            return found
        if offset + 4 > end:
            return None
        atype = int.from_bytes(data[offset: offset + 2], "big")
        alen = int.from_bytes(data[offset + 2: offset + 4], "big")
        if offset + 4 + alen > end:
            return None
        found.setdefault(atype, (offset + 4, alen))
        offset += 4 + alen + ((-alen % 4) if padded else 0)
    return found if offset == end else None
