"""Aggregate one flow's STUN/TURN messages: types, methods, realms, addresses, ICE attributes, and what each side sent.

Cookie-less (RFC 3489, MS-TURN) messages count only when the flow validates as such STUN; USERNAMEs
are replaced by redaction tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from confaudit.analysis.refs import hex16, packet_refs, text
from confaudit.analysis.sampling import Sample

if TYPE_CHECKING:
    from confaudit.evidence_model import StunFlow, StunSide

MAX_VALUES = 32


def _addr(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) >= 2:
        ip, port = value[0], value[1]
    else:
        ip, port = getattr(value, "ip", None), getattr(value, "port", None)
    if ip is None:
        return None
    ip = str(ip)
    return f"[{ip}]:{int(port)}" if ":" in ip else f"{ip}:{int(port)}"


STUN_FULL_PARSE = 256
"""Messages per flow whose attributes are all decoded; later repeats of known types are only counted."""
STUN_COOKIE = b"\x21\x12\xa4\x42"


CLASSIC_TYPES = frozenset({0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112,  # RFC 3489 Binding, Shared Secret
                           0x0003, 0x0103, 0x0113, 0x0004, 0x0115, 0x0006, 0x0106, 0x0116})  # MS-TURN
"""Message types of cookie-less STUN: RFC 3489 and Microsoft's MS-TURN (draft-era TURN)."""
MIN_CLASSIC_MESSAGES = 4
"""Clean classic messages a flow needs when no request/response pair matches by transaction id."""


_MS_TURN_UNPADDED = "attributes not padded to 4 bytes (MS-TURN style)"


def _classic_flow(messages: list[Any], with_cookie: int) -> bool:
    """Cookie-less STUN is accepted for a flow only on structure random bytes do not show.

    Every message must have a known RFC 3489/MS-TURN type and attributes that walk cleanly (MS-TURN
    may leave them unpadded); then a response answers a request (same 128-bit transaction id), or
    there are several such messages, or the flow also carries STUN with the magic cookie (MS-TURN
    mixes both). A DNS id or a random datagram can look like one header, not like this.
    """
    clean = [m for m in messages if m.msg_type in CLASSIC_TYPES and m.attributes
             and all(p == _MS_TURN_UNPADDED for p in m.problems)]
    if not clean or len(clean) < len(messages) * 0.9:
        return False
    requests = {m.transaction_id for m in clean if m.msg_class == "request" or m.msg_type in (0x0001, 0x0002, 0x0003)}
    answered = any(m.transaction_id in requests for m in clean if m.msg_type & 0x0100)
    return answered or len(clean) >= MIN_CLASSIC_MESSAGES or with_cookie > 0


def stun_summary(flow_id: str, samples: list[Sample], redactor: Any) -> StunFlow | None:
    """Aggregate the STUN/TURN messages of one flow (cookie-less ones only when the flow validates as classic STUN)."""
    from confaudit.wire.stun import parse_stun

    types: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    realms: set[str] = set()
    software: set[str] = set()
    usernames: set[str] = set()
    addresses: dict[str, set[str]] = {"mapped": set(), "relayed": set(), "peer": set()}
    vendor: dict[str, dict[str, Any]] = {}
    ice: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    parsed: list[Sample] = []
    classic: list[tuple[Sample, Any]] = []
    method_of_type: dict[int, str] = {}
    full = 0
    by_side: dict[str, dict[str, Any]] = {side: {"software": set(), "vendor_attributes": set(), "binding_requests": 0,
                                                  "binding_responses": 0, "turn_requests": 0, "realms": set()}
                                           for side in ("src", "dst")}

    def account(sample: Sample, msg: Any) -> None:
        nonlocal full
        parsed.append(sample)
        full += 1
        side = by_side["src" if sample.forward else "dst"]
        if msg.method == 1 and msg.msg_class == "request":
            side["binding_requests"] += 1
        elif msg.method == 1 and msg.msg_class in ("success", "error"):
            side["binding_responses"] += 1
        elif 3 <= msg.method <= 9 and msg.msg_class == "request":  # Allocate .. ChannelBind: a TURN client talking
            side["turn_requests"] += 1
        if msg.software:
            side["software"].add(text(msg.software, 256) or "")
        side["vendor_attributes"].update(hex16(vtype) for vtype, _n, _v in msg.vendor_attributes)
        types[hex16(msg.msg_type)] += 1
        method = method_of_type.setdefault(msg.msg_type, f"{msg.method_name or 'unknown'} {msg.msg_class}")
        methods[method] += 1
        if msg.realm:
            realm = text(msg.realm, 256) or ""
            # MS-TURN sends an opaque binary REALM: keep only names, count the rest.
            if realm.isprintable() and "\ufffd" not in realm:
                realms.add(realm)
                side["realms"].add(realm)
            else:
                ice["binary_realm"] += 1
        if msg.software:
            software.add(text(msg.software, 256) or "")
        if msg.username:
            usernames.add(msg.username)  # raw here, tokens below: one HMAC per distinct name
        for key, address in (("mapped", msg.mapped_address), ("mapped", msg.xor_mapped_address),
                             ("relayed", msg.xor_relayed_address), ("peer", msg.xor_peer_address)):
            rendered = _addr(address)
            if rendered and len(addresses[key]) < MAX_VALUES:
                addresses[key].add(rendered)
        for name, value in (("priority", msg.priority), ("ice_controlling", msg.ice_controlling),
                            ("ice_controlled", msg.ice_controlled), ("use_candidate", msg.use_candidate),
                            ("nonce_present", msg.nonce_present)):
            if value not in (None, False):  # a PRIORITY of 0 is not counted either
                ice[name] += 1
        if msg.error_code:
            errors[str(msg.error_code)] += 1
        for vtype, vname, _value in msg.vendor_attributes:
            entry = vendor.setdefault(hex16(vtype), {"name": vname, "count": 0})
            entry["count"] += 1

    for sample in samples:
        head = sample.payload[:8]
        if full >= STUN_FULL_PARSE and len(head) == 8 and head[4:8] == STUN_COOKIE:
            msg_type = int.from_bytes(head[:2], "big")
            if msg_type in method_of_type:  # a repeat (consent checks): count it, skip the attribute walk
                parsed.append(sample)
                types[hex16(msg_type)] += 1
                methods[method_of_type[msg_type]] += 1
                continue
        msg = parse_stun(sample.payload)
        if msg is not None:
            account(sample, msg)
            continue
        msg = parse_stun(sample.payload, allow_classic=True)
        if msg is not None:
            classic.append((sample, msg))
    classic_ok = bool(classic) and _classic_flow([m for _s, m in classic], len(parsed))
    if classic_ok:
        for sample, msg in classic:
            account(sample, msg)
    if not parsed:
        return None

    def sent_by(v: dict[str, Any]) -> StunSide:
        return {"software": sorted(v["software"]), "vendor_attributes": sorted(v["vendor_attributes"]),
                "realms": sorted(v["realms"]), "binding_requests": v["binding_requests"],
                "binding_responses": v["binding_responses"], "turn_requests": v["turn_requests"]}

    summary: StunFlow = {
        "flow": flow_id,
        "messages": len(parsed),
        "attributes_from": full,
        "classic": len(classic) if classic_ok else 0,
        "message_types": dict(sorted(types.items())),
        "methods": dict(sorted(methods.items())),
        "realms": sorted(realms),
        "software": sorted(software),
        "usernames": sorted({redactor.token("stun-username", name) for name in usernames})[:MAX_VALUES],
        "mapped_addresses": sorted(addresses["mapped"]),
        "relayed_addresses": sorted(addresses["relayed"]),
        "peer_addresses": sorted(addresses["peer"]),
        "ice_attributes": dict(sorted(ice.items())),
        "error_codes": dict(sorted(errors.items())),
        "vendor_attributes": [{"type": k, "name": v["name"], "count": v["count"]} for k, v in sorted(vendor.items())],
        "channel_data_packets": 0,
        "sides": {"src": sent_by(by_side["src"]), "dst": sent_by(by_side["dst"])},
        "packets": packet_refs(parsed),
    }
    return summary
