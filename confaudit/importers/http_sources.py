"""HTTP-side inputs (observations.jsonl, .mitm, HAR) -> a partial evidence bundle; pcap cross-links.

Live (observations written by the addon) and offline (.mitm) go through the same converter
(``confaudit.session.records``); everything is redacted again on import (idempotent), so a
session written by an older or foreign addon cannot leak secrets into the bundle.

The converters' and the HAR importer's records are typed (``records.Observation``: the schema's records
before they are numbered); the records of an observations file are what the file held, redacted again
(:data:`ObservationLine`). :func:`http_side_sections` turns both into the bundle's records in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import count, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, cast

from confaudit.session import records as convert
from confaudit.importers.reredact import ObservationLine, Reredactor
from confaudit.session.directory import sha256_file
from confaudit.importers.shared import SharedParts
from confaudit.errors import InputError
from confaudit.gcpause import gc_paused
from confaudit.jsonstream import NumberOutOfRange, parse_line
from confaudit.redact import Redactor

if TYPE_CHECKING:
    from confaudit.evidence_model import ClientHello, DnsQuery, HttpExchange, InputSummary, ProxyUdpFlow, WebSocketMessage
    from confaudit.importers.har import HarRecord
    from confaudit.session.records import ClientHelloObservation, Observation

MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_FLOW_FILE_BYTES = 4 * 1024 * 1024 * 1024
_SECTIONS = {"http": "http", "websocket": "websocket", "tls_clienthello": "tls_clienthello",
             "udp_flow": "udp_flows", "dns": "dns_queries"}
_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "http": {"ts": (int, float), "method": str, "url": str},
    "websocket": {"ts": (int, float), "http_uuid": str, "type": str},
    "tls_clienthello": {"ts": (int, float)}, "udp_flow": {"ts": (int, float)}, "dns": {}}


def sniff_format(path: Path) -> str:
    """'observations', 'har' or 'mitm' from the first bytes."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{":
        from confaudit.jsonio import top_level_keys

        keys, end = top_level_keys(stripped)
        if b"log" in keys:  # a HAR on one line may hold "kind" in its first KiBs too
            return "har"
        if b"kind" in keys or path.suffix == ".jsonl" or (end is not None and stripped[end:].lstrip()[:1] == b"{"):
            return "observations"
        first_line = stripped.split(b"\n", 1)[0]
        return "observations" if b'"kind"' in first_line else "har"
    if stripped[:1].isdigit():
        return "mitm"
    raise InputError(path, "not an HTTP-side input (expected observations JSONL, HAR or .mitm)")


ImportedRecord: TypeAlias = "Observation | ObservationLine"
"""A record of any HTTP-side input, before :func:`http_side_sections` numbers it."""


class HttpSideRecords(TypedDict):
    """The bundle sections the HTTP-side records become (:func:`http_side_sections`)."""

    http: list[HttpExchange]
    websocket: list[WebSocketMessage]
    tls_clienthello: list[ClientHello]
    udp_flows: list[ProxyUdpFlow]
    dns_queries: list[DnsQuery]


class HttpSideSections(HttpSideRecords):
    """The bundle sections the HTTP side writes (:func:`load_http_sources`; ``evidence.build`` folds them in)."""

    inputs: list[InputSummary]
    complete: bool


def read_observations(path: Path, redactor: Redactor) -> tuple[list[ObservationLine], int, int, list[str]]:
    """(records, read, skipped, warnings); malformed lines are skipped and counted (a torn tail is normal)."""
    records: list[ObservationLine] = []
    warnings: list[str] = []
    read = skipped = 0
    again = Reredactor(redactor)
    with gc_paused(keep=True), path.open("rb") as fh:  # records are trees (a .mitm's flows are not: no pause there)
        for number, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""), 1):
            if not raw.strip():
                continue
            try:
                if len(raw) > MAX_LINE_BYTES:
                    raise InputError(path, "line too long")
                record = parse_line(raw)
                _check_record(record)
            except (InputError, UnicodeDecodeError, ValueError) as exc:
                skipped += 1
                if len(warnings) < 10:
                    why = exc.problem if isinstance(exc, InputError) else (
                        str(exc) if isinstance(exc, NumberOutOfRange) else type(exc).__name__)
                    warnings.append(f"{path.name}:{number}: skipped malformed record ({why[:200]})")
                while len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    raw = fh.readline(MAX_LINE_BYTES + 1)
                    if not raw:
                        break
                continue
            if record["kind"] == "header":
                continue
            read += 1
            if record["kind"] in _SECTIONS:
                records.append(again.record(record))
    if read == 0 and skipped and not records:
        raise InputError(path, "no readable observation records")
    return records, read, skipped, warnings


def _check_record(record: Any) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise ValueError("not a record object")
    for key, types in _REQUIRED.get(record["kind"], {}).items():
        if not isinstance(record.get(key), types) or isinstance(record.get(key), bool):
            raise ValueError(f"field {key} has the wrong type")


def read_flow_file(path: Path, redactor: Redactor) -> tuple[list[Observation], int, int, list[str]]:
    """Records of a mitmproxy .mitm file; any corruption (truncated, deep, wrong types) is an InputError."""
    from mitmproxy import dns, http, io, tcp, udp

    if path.stat().st_size > MAX_FLOW_FILE_BYTES:
        raise InputError(path, f"flow file larger than {MAX_FLOW_FILE_BYTES} bytes")
    records: list[Observation] = []
    read = skipped = 0
    seen_conns: set[str] = set()
    keep = SharedParts().record  # equal headers, endpoints and values held once
    try:
        with path.open("rb") as fh:
            for flow in io.FlowReader(fh).stream():
                read += 1
                if isinstance(flow, http.HTTPFlow):
                    records.append(keep(convert.http_record(flow, redactor, "mitm")))
                    if flow.websocket is not None:
                        records.extend(keep(convert.websocket_record(flow, m, redactor, "mitm")) for m in flow.websocket.messages)
                    conn = flow.client_conn
                    if conn.sni and conn.id not in seen_conns:
                        seen_conns.add(conn.id)
                        records.append(keep(_hello_from_conn(conn)))
                elif isinstance(flow, udp.UDPFlow):
                    if flow.messages:
                        agg = convert.UdpAggregate(flow.client_conn.peername, flow.server_conn.address, flow.messages[0].timestamp)
                        for m in flow.messages:
                            agg.add(m.content, m.from_client, m.timestamp)
                        records.append(keep(agg.record()))
                elif isinstance(flow, dns.DNSFlow):
                    records.append(keep(convert.dns_record(flow, redactor)))
                elif isinstance(flow, tcp.TCPFlow):
                    skipped += 1
    except RecursionError:
        raise InputError(path, f"flow file nests too deeply (after {read} flows)") from None
    except MemoryError:
        raise InputError(path, "flow file needs too much memory") from None
    except Exception as exc:  # FlowReadException, ValueError, TypeError, KeyError from hostile tnetstrings
        raise InputError(path, f"corrupt or truncated flow file after {read} flows ({type(exc).__name__})") from None
    warnings = [f"{path.name}: {skipped} raw TCP flows not imported"] if skipped else []
    return records, read, 0, warnings


class _Hello:
    def __init__(self, sni: str, alpn: list[bytes], ciphers: list[int]) -> None:
        self.sni, self.alpn_protocols, self.cipher_suites = sni, alpn, ciphers


def _hello_from_conn(conn: Any) -> ClientHelloObservation:
    hello = _Hello(conn.sni, list(conn.alpn_offers or []), list(conn.cipher_list or []))
    return convert.clienthello_record(conn.timestamp_start or 0.0, hello, conn.peername, None, "tcp", False)


def _read_har(path: Path, redactor: Redactor) -> tuple[list[HarRecord], int, int, list[str]]:
    from confaudit.importers.har import read_har

    return read_har(path, redactor)


_Reader: TypeAlias = Callable[[Path, Redactor], tuple[Sequence[ImportedRecord], int, int, list[str]]]
_READERS: dict[str, _Reader] = {"observations": read_observations, "mitm": read_flow_file, "har": _read_har}


def load_http_sources(paths: list[Path], redactor: Redactor) -> HttpSideSections:
    """Partial bundle: inputs[], http[], websocket[], tls_clienthello[], udp_flows[], dns_queries[]; every record is
    redacted again with ``redactor`` on import."""
    inputs: list[InputSummary] = []
    tagged: list[tuple[int, int, ImportedRecord]] = []
    for index, raw in enumerate(paths):
        path = Path(raw)
        try:
            fmt = sniff_format(path)
            records, read, skipped, warnings = _READERS[fmt](path, redactor)
            digest = sha256_file(path)
        except OSError as exc:
            raise InputError(path, exc.strerror or "cannot read file") from None
        inputs.append({"path": str(path), "sha256": digest, "format": fmt, "records_read": read,
                       "records_skipped": skipped, "complete": skipped == 0, "warnings": warnings})
        with gc_paused(keep=True):  # 100,000 tuples here and in the sort would set off collections that find nothing
            tagged.extend(zip(repeat(index), count(), records))
    with gc_paused(keep=True):
        sections = http_side_sections(tagged)
    return {**sections, "inputs": inputs, "complete": all(i["complete"] for i in inputs)}


def _ts(rec: Mapping[str, object]) -> float:
    ts = rec.get("ts")
    return float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0.0


def http_side_sections(tagged: list[tuple[int, int, ImportedRecord]]) -> HttpSideRecords:
    """Number records deterministically (ts, then source order) and join WebSocket messages to their HTTP id.

    Records get their ids in place (no copies: a HAR of 100,000 requests holds 100,000 of them)."""
    out: HttpSideRecords = {"http": [], "websocket": [], "tls_clienthello": [], "udp_flows": [], "dns_queries": []}
    http, websocket, hellos, udp_flows, dns_queries = (out["http"], out["websocket"], out["tls_clienthello"],
                                                       out["udp_flows"], out["dns_queries"])
    tagged.sort(key=lambda t: (_ts(t[2]), t[0], t[1]))
    upgrades = {(src, str(rec.get("http_uuid"))) for src, _, rec in tagged if rec["kind"] == "websocket"}
    http_ids: dict[tuple[int, str], str] = {}
    joins: list[tuple[dict[str, Any], tuple[int, str]]] = []  # a message may sort before its upgrade: joined after
    for src, _, rec in tagged:
        # The one step typed by casts: the record becomes its bundle record in place (a copy per record would cost
        # a HAR of 100,000 requests time and, while both exist, memory), which no TypedDict can express. ``kind``
        # and the join key go, the ids come: a converter's record (records.Observation) then is its section's
        # record (tests/session/test_observation_records.py checks the fields line up), and a line of an
        # observations file is one as far as its writer made it (ObservationLine).
        record = cast("dict[str, Any]", rec)
        kind = record.pop("kind")
        if kind == "http":
            record["id"] = rid = f"h{len(http) + 1}"
            if upgrades and (join := (src, str(record.pop("flow_uuid", None)))) in upgrades:
                http_ids.setdefault(join, rid)
            else:
                record.pop("flow_uuid", None)
            http.append(cast("HttpExchange", record))
        elif kind == "websocket":
            record["id"] = f"w{len(websocket) + 1}"
            record["http_id"] = None
            joins.append((record, (src, str(record.pop("http_uuid", None)))))
            record["flow"] = None
            websocket.append(cast("WebSocketMessage", record))
        elif kind == "tls_clienthello":
            record["id"] = f"t{len(hellos) + 1}"
            hellos.append(cast("ClientHello", record))
        elif kind == "udp_flow":
            record["id"] = f"u{len(udp_flows) + 1}"
            udp_flows.append(cast("ProxyUdpFlow", record))
        elif kind == "dns":
            record["id"] = f"d{len(dns_queries) + 1}"
            dns_queries.append(cast("DnsQuery", record))
        else:  # the readers keep the five kinds only
            raise KeyError(kind)
    for record, join in joins:
        record["http_id"] = http_ids.get(join)
    tagged.clear()
    return out


# ---- cross-linking with the packet side -----------------------------------------------------------
def _endpoint(flow: dict[str, Any], side: str) -> tuple[str, int] | None:
    node = flow.get(side)
    if isinstance(node, dict) and "ip" in node and "port" in node:
        return str(node["ip"]), node["port"]
    port_key = {"src": "sport", "dst": "dport"}.get(side)
    if isinstance(node, str) and port_key and isinstance(flow.get(port_key), int):
        return node, flow[port_key]  # the packet side's shape: src/sport, dst/dport
    ip, port = flow.get(f"{side}_ip"), flow.get(f"{side}_port")
    return (str(ip), port) if ip is not None and port is not None else None


def _window(flow: dict[str, Any]) -> tuple[float, float]:
    first = next((flow[k] for k in ("first_seen", "ts_first", "first_ts", "start", "ts_start", "ts") if isinstance(flow.get(k), (int, float))), None)
    last = next((flow[k] for k in ("last_seen", "ts_last", "last_ts", "end", "ts_end") if isinstance(flow.get(k), (int, float))), first)
    return (float("-inf"), float("inf")) if first is None else (first - 2.0, (last or first) + 2.0)


def link_http_to_flows(bundle: dict[str, Any]) -> None:
    """Set http[].flow / websocket[].flow to the pcap flow id carrying them (TCP 5-tuple + time)."""
    flows = bundle.get("flows") or []
    index: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for flow in flows:
        if not isinstance(flow, dict) or str(flow.get("transport", flow.get("proto", "tcp"))).lower() not in ("tcp", "6"):
            continue
        for side in ("src", "dst", "client", "server"):
            ep = _endpoint(flow, side)
            if ep is not None:
                index.setdefault(ep, []).append(flow)
    if not index:
        return
    by_http: dict[str, str | None] = {}
    for rec in bundle.get("http") or []:
        match: str | None = None
        for side in ("client", "server"):
            ep = rec.get(side)
            port = ep.get("port") if isinstance(ep, dict) else None
            if not isinstance(port, int) or match:  # a wrong-typed port (a list is not even hashable) matches no flow
                continue
            for flow in index.get((str(ep.get("ip")), port), []):
                lo, hi = _window(flow)
                if lo <= _ts(rec) <= hi:
                    match = flow.get("id")
                    break
        rec["flow"] = match
        by_http[rec["id"]] = match
    for ws in bundle.get("websocket") or []:
        ws["flow"] = by_http.get(ws.get("http_id"))
