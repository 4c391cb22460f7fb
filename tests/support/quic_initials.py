"""Real QUIC client Initial datagrams, made by aioquic."""

from __future__ import annotations


def aioquic_initials(version: int, sni: str = "media.vendor.example", alpn: list[str] | None = None) -> list[bytes]:
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    config = QuicConfiguration(is_client=True, alpn_protocols=alpn or ["h3", "webrtc"], server_name=sni,
                               supported_versions=[version])
    conn = QuicConnection(configuration=config)
    conn.connect(("127.0.0.1", 4433), now=0.0)
    return [data for data, _addr in conn.datagrams_to_send(now=0.0)]
