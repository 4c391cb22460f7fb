"""The file names of a session directory, shared by the directory format (``directory``) and its integrity
check (``integrity``); ``directory`` re-exports them for its callers."""

from __future__ import annotations

import re

MANIFEST = "manifest.json"
MANIFEST_TEMP = re.compile(r"^\.manifest\.json\..+\.tmp$")
"""The manifest's temporary name while it is written atomically (left behind only by a kill mid-write):
the one entry of a session directory that no manifest can list."""
OBSERVATIONS = "observations.jsonl"
FLOWS = "flows.mitm"
PCAP = "capture.pcapng"
KEYLOG = "sslkeys.log"
BROWSER_KEYLOG = "browser-keys.log"
"""A scenario run's browsers' own key log (SSLKEYLOGFILE): their TLS secrets (Firefox's NSS also logs DTLS)."""
SFU_KEYLOG = "sfu-keys.log"
"""A lab scenario run's SFU key log: the DTLS secrets of the lab SFU, the transport end of the browsers' media."""
MEDIA_KEYLOGS = (BROWSER_KEYLOG, SFU_KEYLOG)
"""Key logs of the call's endpoints that a scenario run seals into its session, in the order analysis reads them."""
PHASES = "phases.jsonl"
SENSITIVE = {FLOWS: "raw proxied traffic, unredacted", PCAP: "raw packets, unredacted", KEYLOG: "TLS session keys",
             BROWSER_KEYLOG: "the browsers' TLS (and DTLS) session keys", SFU_KEYLOG: "the lab SFU's DTLS session keys"}
