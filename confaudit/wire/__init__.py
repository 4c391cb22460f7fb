"""Pure byte parsers for call protocols: functions ``bytes -> record | None``.

A parser returns a record, None ("not this protocol"), or raises ``errors.ParseError`` (malformed);
any other exception is a bug, counted by ``errors.ParserBugs`` at the analysis boundary.
Modules: stun (+ stun_tcp), dtls, tls (+ hello, shared with dtls), dns, rtp, codecs (+ g711,
structure), sip, sdp, http, quic (+ quic_initial, gquic), zoom; shared name tables in names.
No heavy imports here (``confaudit --help`` must stay fast).
"""
