"""Check ``end_to_end_encryption`` (``expect``): can anyone but the call's participants read the media?

Signals, strongest first:
- plain RTP anywhere, or a NULL SRTP profile selected in DTLS: media is readable on the path, so not
  end-to-end encrypted;
- SDES (``a=crypto``) keys in signalling: the signalling server saw the media keys;
- auditor-endpoint test (``e2ee.streams[].inner``): after removing the auditor's own SRTP layer,
  ``codec`` (a valid codec frame) on a leg that ends at a server means the server can read it;
  ``encrypted`` means a second, inner layer (SFrame/insertable streams) protects the media;
- a peer-to-peer path whose media is keyed by DTLS-SRTP: transport encryption is end to end.
Nothing else is taken as E2EE: without these signals the verdict is not_observable.

Verdicts: the observation equal to ``expect`` is supported; E2EE missing where the claim promises it
is contradicted; E2EE present where the claim denies it (``expect: false``, e.g. "Rooms are not
end-to-end encrypted" on a peer-to-peer DTLS-SRTP call) is understated: the statement undersells
the protection, which never counts against the vendor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.rules.checks._common import as_list, judging_vendor_media, flow_ref, obj, outcome, plural, record_id, records, ref, text
from confaudit.rules.checks.media import null_dtls, sdp_plain, stream_encryption
from confaudit.rules.model import Outcome


def _topology(bundle: Mapping[str, Any]) -> str:
    path = obj(bundle, "media_path")
    value = path["topology"] if path else None
    return value.lower() if isinstance(value, str) else "unknown"


def observe_e2ee(bundle: Mapping[str, Any]) -> tuple[bool | None, str, list[dict[str, str]]]:
    """(True/False/None, reason sentence, refs): what the evidence says about end-to-end encryption."""
    streams = records(bundle, "media_streams") or []
    plain = [(s, i) for i, s in enumerate(streams) if stream_encryption(s) == "plain"]
    if plain:
        refs = [ref("media_stream", record_id(s, f"m{i}"), "plain RTP") for s, i in plain]
        return False, f"{plural(len(plain), 'media stream')} travelled as unencrypted RTP, readable by any relay", refs
    negotiated_plain = sdp_plain(bundle)
    if negotiated_plain:
        return False, "the signalling negotiated unencrypted media, readable by any relay", negotiated_plain
    null_keyed = null_dtls(bundle)
    if null_keyed:
        return False, "DTLS selected a NULL SRTP profile, so the media travelled unencrypted, readable by any relay", null_keyed
    e2ee = obj(bundle, "e2ee")
    sdes = [s for s in as_list(e2ee["sdes"]) if isinstance(s, Mapping)] if e2ee else []
    sdp_crypto = [s for s in records(bundle, "sdp") or [] if s["crypto_present"] is True
                  or any(isinstance(m, Mapping) and m.get("crypto") for m in as_list(s["media"]))]
    if sdes or sdp_crypto:
        refs = [r for i, s in enumerate(sdp_crypto)
                for r in [ref("sdp", f"sdp{i}", f"SDES a=crypto key in signalling ({text(s['source'], 60)})")] + flow_ref(s)]
        for s in sdes:
            raw_src = s.get("source")
            src = raw_src if isinstance(raw_src, Mapping) else {}
            refs.append(ref(text(src.get("kind") or "sdp", 20), src.get("id") or "?", f"SDES {text(s.get('suite'), 40)} key in signalling"))
        return False, "media keys were sent inside the signalling (SDES a=crypto), so the signalling servers hold them", refs
    topology = _topology(bundle)
    tested = [s for s in as_list(e2ee["streams"]) if isinstance(s, Mapping)] if e2ee else []
    readable, inner = [], []
    for i, s in enumerate(tested):
        verdict = str(s.get("inner") or "").lower()
        leg = str(s.get("path") or topology).lower()
        rid = ref("e2ee_stream", record_id(s, f"e{i}"), f"inner payload {verdict or 'undetermined'} on a {leg} path")
        if verdict == "codec" and leg == "server":
            readable.append(rid)
        elif verdict == "encrypted":
            inner.append(rid)
    if readable:
        return False, (f"after removing the auditor's own transport encryption, {plural(len(readable), 'stream')} "
                       "carried readable codec frames to a media server"), readable
    if inner:
        return True, (f"{plural(len(inner), 'stream')} still carried encrypted payloads after the auditor's own "
                      "transport layer was removed, showing an inner end-to-end layer"), inner
    keyed = [d for d in records(bundle, "dtls") or [] if d["srtp_profile"]]
    encrypted = [s for s in streams if stream_encryption(s) == "encrypted"]
    if topology == "p2p" and keyed and encrypted and len(encrypted) == len(streams):
        refs = [ref("dtls", f"dtls{i}", f"DTLS-SRTP {text(d['srtp_profile'], 40)}") for i, d in enumerate(keyed)]
        refs += [ref("media_stream", record_id(s, f"m{i}"), f"{text(s['encryption'], 30)} on the peer-to-peer path")
                 for i, s in enumerate(streams[:10])]
        return True, "media went directly between the participants over DTLS-SRTP, so no server held the keys", refs
    return None, "", []


@judging_vendor_media
def end_to_end_encryption(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    expect = bool(params.get("expect", True))
    observed, reason, refs = observe_e2ee(bundle)
    if observed is None:
        return outcome("not_observable", "The evidence has no decisive end-to-end encryption signal (no auditor-endpoint "
                       "decryption test, SDES keys, plain RTP or peer-to-peer DTLS-SRTP path).")
    if observed and not expect:
        return outcome("understated", "The claim denies end-to-end encryption, yet the media was end-to-end encrypted "
                       f"(the statement understates the protection): {reason}.", refs)
    state = "end-to-end encrypted" if observed else "not end-to-end encrypted"
    return outcome("supported" if observed == expect else "contradicted", f"The media was {state}: {reason}.", refs)
