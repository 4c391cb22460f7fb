"""What a capture can and cannot show, per check kind (the report's methodology section)."""

from __future__ import annotations

CAN_AND_CANNOT: dict[str, tuple[str, str]] = {
    "transport_encryption": (
        "TLS and QUIC handshakes on the wire: protocol versions, cipher suites and which hosts were contacted in clear text.",
        "Whether the server stores or forwards data unencrypted after TLS ends; traffic on paths this capture did not see.",
    ),
    "media_encryption": (
        "Whether media packets are SRTP/DTLS-SRTP or plain RTP, the SRTP profiles negotiated, and NULL or missing encryption.",
        "Whether the keys are held by the vendor's servers (see end-to-end encryption); media sent outside the captured interface.",
    ),
    "end_to_end_encryption": (
        "With the auditor's own key log: whether the decrypted SRTP payload is still encrypted (an inner E2EE layer) or plain codec data.",
        "Without a key log, only indirect signs; how clients exchange and verify inner keys; what other clients or servers do with media.",
    ),
    "media_path": (
        "Whether media went peer-to-peer, through a TURN relay or through a vendor media server (SFU/MCU), with endpoint addresses and names.",
        "Paths of other participants' media, or routing inside the vendor's network.",
    ),
    "data_collection": (
        "Which data categories the client sent, in which request fields, during which call phase (after TLS interception).",
        "Data collected server side, from other participants or through pinned connections that the proxy could not open.",
    ),
    "third_party_sharing": (
        "Which companies the client contacted directly and what data it sent them.",
        "Server-to-server sharing after the data reaches the vendor, which no client capture can see.",
    ),
    "no_advertising": (
        "Requests from the client to known advertising and tracking companies (by domain, CNAME and certificate).",
        "Advertising use of data on the vendor's servers; trackers not on the entity lists used.",
    ),
    "room_links": (
        "Room identifiers observed in traffic and links: their length, character set and whether they repeat.",
        "How the server generates identifiers or rate-limits guessing.",
    ),
    "room_lock": (
        "A scenario (confaudit run) locks the room and another participant tries to join: whether the join was "
        "refused and whether that participant's browser still sent media (its RTP counters).",
        "Other ways in (dial-in, invitations, moderators' overrides); a lock enforced only for some clients.",
    ),
    "no_audio_while_muted": (
        "Audio media rates and audio-derived telemetry sent in phases marked muted, compared with unmuted phases.",
        "Local processing of microphone audio that sends nothing; data batched and sent after the capture stopped.",
    ),
    "data_location": (
        "With the auditor's offline country table (registry delegation files or a CSV): the country of every server, "
        "relay and flow destination address the capture shows.",
        "Where data is stored or processed after it arrives; a registry's country is the address holder's, and anycast "
        "and CDN addresses answer from many countries.",
    ),
    "document_only": (
        "Nothing: this claim concerns policies, servers or audits outside any network capture.",
        "Everything; the report lists the claim so readers know it was not tested.",
    ),
}

GENERAL_LIMITS = (
    "A capture shows one client, one account and one session; other platforms, versions and regions can behave differently.",
    "Verdicts are only as good as the capture: a partial or damaged capture is marked incomplete and its gaps are never read as 'nothing seen'.",
    "A simulated lab capture demonstrates the method; only a capture of the real application is evidence about the vendor.",
    "Secrets of the auditor (cookies, tokens, passwords, TURN credentials, ICE and SRTP keys) are replaced by keyed tokens before reporting.",
)


def method_rows(checks: list[str]) -> list[dict[str, str]]:
    """One row per distinct check kind used, in first-use order; unknown kinds get a neutral note."""
    rows = []
    for check in dict.fromkeys(checks):
        can, cannot = CAN_AND_CANNOT.get(check, ("See the check's documentation.", "See the check's documentation."))
        rows.append({"check": check, "can": can, "cannot": cannot})
    return rows


def category_titles() -> dict[str, str]:
    """Rubric criterion id -> human title (empty when the rubric cannot be read: ids are shown instead)."""
    try:
        from confaudit.rules.scoring import rubric

        return {cid: c.title for cid, c in rubric().items()}
    except Exception:  # the report must render even if the rubric file is broken
        return {}


def category_title(category: str, titles: dict[str, str]) -> str:
    """'Media encrypted in transit ...' for a known id, else the id with spaces for underscores."""
    return titles.get(category) or category.replace("_", " ")
