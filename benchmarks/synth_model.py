"""Data model of the synthetic call: flows, column-wise packets and the builder that collects them."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

PACKETS_PER_SECOND = 555
EPOCH = 1_764_000_000.0
RAW, RTP, RTCP, TLS_APP, QUIC_SHORT, ICMP_ECHO = range(6)
"""Payload kinds: RAW payloads are random or explicit; the others get a generated prefix."""
PREFIX_BYTES = {RTP: 12, RTCP: 8, TLS_APP: 5, QUIC_SHORT: 9, ICMP_ECHO: 8}
CLIENT4 = "192.168.1.23"
CLIENT6 = "2001:db8:1::23"


@dataclass(frozen=True)
class Flow:
    """One bidirectional 5-tuple of the synthetic call."""

    family: int
    proto: int
    client: str
    server: str
    cport: int
    sport: int


@dataclass
class Packets:
    """Column-wise description of packets (concatenated across flows, then sorted by time)."""

    ts: np.ndarray
    flow: np.ndarray
    to_server: np.ndarray
    kind: np.ndarray
    payload_len: np.ndarray
    prefix: np.ndarray
    """uint8[n, 16]: first payload bytes for kinds with a generated prefix."""
    tcp_seq: np.ndarray
    tcp_ack: np.ndarray
    tcp_flags: np.ndarray
    special: np.ndarray
    """int64[n]: index into the explicit payload list, -1 for generated payloads."""


class Builder:
    """Accumulates per-flow packet columns plus explicit payloads."""

    def __init__(self, total: int, seed: int) -> None:
        self.total = total
        self.duration = total / PACKETS_PER_SECOND
        self.rng = np.random.default_rng(seed)
        self.prng = random.Random(seed)
        self.flows: list[Flow] = []
        self.parts: list[dict[str, np.ndarray]] = []
        self.payloads: list[bytes] = []
        self.frames: dict[int, bytes] = {}

    def flow(self, family: int, proto: int, server: str, sport: int, cport: int) -> int:
        self.flows.append(Flow(family, proto, CLIENT4 if family == 4 else CLIENT6, server, cport, sport))
        return len(self.flows) - 1

    def times(self, n: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
        end = self.duration if end is None else end
        return np.sort(self.rng.uniform(start, end, n)) + EPOCH

    def add(self, flow: int, ts: np.ndarray, to_server: np.ndarray, kind: int, payload_len: np.ndarray,
            prefix: np.ndarray | None = None, special: list[bytes] | None = None,
            tcp: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        n = len(ts)
        spec = np.full(n, -1, dtype=np.int64)
        if special is not None:
            spec[:] = np.arange(len(self.payloads), len(self.payloads) + n)
            self.payloads.extend(special)
            payload_len = np.array([len(p) for p in special], dtype=np.int64)
        zeros = np.zeros(n, dtype=np.int64)
        self.parts.append(dict(
            ts=ts, flow=np.full(n, flow, dtype=np.int64), to_server=to_server.astype(bool),
            kind=np.full(n, kind, dtype=np.int64), payload_len=payload_len.astype(np.int64),
            prefix=prefix if prefix is not None else np.zeros((n, 16), dtype=np.uint8),
            tcp_seq=tcp[0] if tcp else zeros, tcp_ack=tcp[1] if tcp else zeros, tcp_flags=tcp[2] if tcp else zeros,
            special=spec))

    def packets(self) -> Packets:
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        order = np.argsort(cols["ts"], kind="stable")
        return Packets(**{k: v[order] for k, v in cols.items()})
