"""Terminal summary of an evidence bundle (rich tables). Captured strings are sanitised first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from confaudit.analysis.refs import hostport

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.")
TOP_FLOWS = 10


def clean(value: Any, limit: int = 120) -> str:
    """Printable form of a captured value: ANSI/OSC sequences removed, control/bidi characters replaced."""
    text = _ANSI.sub("", "" if value is None else str(value))
    out = "".join(ch if ch.isprintable() and not 0x202A <= ord(ch) <= 0x202E and not 0x2066 <= ord(ch) <= 0x2069
                  else "?" for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(Text(clean(v)) for v in row))  # Text: no rich markup interpretation
    return table


def render_summary(bundle: Mapping[str, Any], console: Any) -> None:
    """Print inputs, protocol counts, top flows, media streams, TLS/DTLS and the media path."""
    inputs = bundle.get("inputs", [])
    console.print(_table("Inputs", ["path", "format", "records", "skipped", "complete"],
                         [[i.get("path"), i.get("format"), i.get("records_read"), i.get("records_skipped"),
                           "yes" if i.get("complete") else "NO"] for i in inputs]))
    counts = {k: v for k, v in (bundle.get("protocol_counts") or {}).items() if v}
    if counts:
        console.print(_table("Packets per protocol", list(counts), [list(counts.values())]))
    flows = sorted(bundle.get("flows", []), key=lambda f: (-f.get("bytes", 0), f.get("id", "")))[:TOP_FLOWS]
    if flows:
        console.print(_table(f"Top {len(flows)} flows by bytes", ["id", "proto", "src", "dst", "packets", "bytes", "label"],
                             [[f["id"], f["transport"], hostport(f['src'], f['sport']), hostport(f['dst'], f['dport']),
                               f["packets"], f["bytes"], f.get("protocol")] for f in flows]))
    media = bundle.get("media_streams", [])
    if media:
        console.print(_table("Media streams", ["id", "flow", "ssrc", "pt", "kind", "codec", "packets", "encryption"],
                             [[m["id"], m["flow"], m["ssrc"], m["payload_type"], m["kind"], m.get("codec") or "?",
                               m["packets"], m["encryption"]] for m in media[:40]]))
    tls = bundle.get("tls", [])
    if tls:
        console.print(_table("TLS", ["flow", "sni", "version", "cipher", "weak", "ech"],
                             [[t["flow"], t.get("sni") or "-", t.get("version") or "?", t.get("cipher") or "?",
                               "WEAK" if t.get("weak") else "", "yes" if t.get("ech") else ""] for t in tls[:40]]))
    dtls = bundle.get("dtls", [])
    if dtls:
        console.print(_table("DTLS", ["flow", "version", "srtp offered", "srtp chosen", "cipher", "certificate"],
                             [[d["flow"], d.get("version") or "?", " ".join(d.get("srtp_profiles_offered", [])),
                               d.get("srtp_profile") or "-", d.get("cipher") or "-",
                               ", ".join(d.get("certificate_names", [])) or "-"] for d in dtls[:40]]))
    path = bundle.get("media_path") or {}
    if path:
        console.print(f"Media path: [bold]{clean(path.get('topology'))}[/bold]")
        for reason in path.get("reasons", [])[:8]:
            from rich.text import Text

            console.print(Text("  - " + clean(reason, 200)))
    table = bundle.get("country_table")
    if isinstance(table, Mapping):
        from rich.text import Text

        console.print(Text(f"Countries: {clean(table.get('located'))} addresses located, {clean(table.get('not_located'))} "
                           f"not in the table, from {clean(table.get('path'), 200)} ({clean(table.get('format'))}, "
                           f"{clean(table.get('rows'))} rows, sha256 {clean(table.get('sha256'), 64)})"))
