"""Pure byte parsers for call protocols: functions ``bytes -> record | None`` that never raise.

Modules: stun, dtls, tls, dns, rtp, codecs, sip, sdp, http, quic, zoom; shared tables in names.
No heavy imports here (``confaudit --help`` must stay fast).
"""
