"""apply_country_table locates http records' server.ip (server_country) and adds them to their party's countries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confaudit.analysis.countries import load_country_table
from confaudit.evidence.countries import apply_country_table, clear_countries


def _exchange(n: int, host: str, ip: str | None) -> dict[str, Any]:
    return {"id": f"h{n}", "host": host, "server": {"ip": ip, "port": 443} if ip is not None else None}


def test_http_servers_are_located_and_counted_once_with_flows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("network,country\n193.0.0.0/21,NL\n8.8.8.0/24,US\n", encoding="utf-8")
    bundle: dict[str, Any] = {
        "flows": [{"id": "f1", "dst": "8.8.8.8"}],
        "http": [_exchange(1, "API.vendor.example.", "193.0.6.139"), _exchange(2, "cdn.vendor.example", "8.8.8.8"),
                 _exchange(3, "x.vendor.example", "212.27.48.10"), _exchange(4, "lan.vendor.example", "192.168.1.2"),
                 _exchange(5, "gone.vendor.example", None), _exchange(6, "ws.other.example", "193.0.6.139")],
        "parties": [{"id": "p1", "domain": "vendor.example", "flows": [], "hosts": ["api.vendor.example", "cdn.vendor.example"]},
                    {"id": "p2", "domain": "third.example", "flows": ["f1"], "hosts": ["x.third.example"]},
                    {"id": "p3", "domain": "quiet.example", "flows": [], "hosts": ["lan.vendor.example"]},
                    {"id": "p4", "domain": "ws.example", "flows": [], "hosts": ["ws.only.example"]}]}
    apply_country_table(bundle, load_country_table(path))
    assert [h.get("server_country", "absent") for h in bundle["http"]] == ["NL", "US", None, "absent", "absent", "NL"]
    # distinct addresses: 8.8.8.8 (a flow and h2) and 193.0.6.139 (h1, h6) once each; 212.27.48.10 not located
    assert (bundle["country_table"]["located"], bundle["country_table"]["not_located"]) == (2, 1)
    assert bundle["parties"][0]["countries"] == ["NL", "US"]  # reached only through http (host normalised)
    assert bundle["parties"][1]["countries"] == ["US"]
    assert "countries" not in bundle["parties"][2]  # its one http server is special-use: no country
    assert "countries" not in bundle["parties"][3]
    clear_countries(bundle)
    assert not any("server_country" in h for h in bundle["http"]) and "country_table" not in bundle
