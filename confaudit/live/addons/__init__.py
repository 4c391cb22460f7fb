"""The confaudit mitmproxy addons: record, never modify, traffic into a session directory.

``SessionRecorder`` owns the session (options, manifest, observation writer, flows.mitm, hook error counts) and
carries one small addon per kind of traffic as mitmproxy child addons (``addons``): HTTP, WebSocket, TLS
ClientHello, DNS and UDP. Load with ``mitmdump -s addons/confaudit.py --set confaudit_session=DIR``.
"""

from confaudit.live.addons.recorder import SessionRecorder

__all__ = ["SessionRecorder"]
