"""HTML report benchmark: a run over 100k observations renders in < 2 s and stays < 5 MB.

Peer: ``pandas.DataFrame.to_html`` of the same bundle's HTTP and data-flow tables, uncapped (what a
naive "dump the evidence into HTML" report costs). Median of 3 renders after a warm-up.
"""

from __future__ import annotations

from confaudit.redact import Redactor
import statistics
import time

OBSERVATIONS = 106_000  # -> just over 100k records across http, websocket, data_flows, tls
TARGET_S = 2.0
TARGET_BYTES = 5_000_000


def _median_seconds(fn, repeat: int = 3) -> tuple[float, object]:
    result = fn()  # warm-up: template compilation, imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> list[dict]:
    import pandas as pd

    from confaudit.report.html import render_audit, render_comparison
    from benchmarks.synth_report import synthetic_bundle, synthetic_run

    bundle = synthetic_bundle(OBSERVATIONS, hosts=900)
    run = synthetic_run(bundle, claims=24, evidence_per_finding=5000)
    seconds, html = _median_seconds(lambda: render_audit(run, bundle, redactor=Redactor.default()))
    size = len(html.encode("utf-8"))

    def naive() -> str:
        return (pd.DataFrame(bundle["http"]).to_html() + pd.DataFrame(bundle["data_flows"]).to_html()
                + pd.DataFrame(bundle["tls"]).to_html())

    peer_seconds, peer_html = _median_seconds(naive, repeat=1)
    peer_size = len(peer_html.encode("utf-8"))

    entries = [{"run": run, "bundle": bundle, "report_href": f"audit-{n}.html"} for n in range(5)]
    cmp_seconds, cmp_html = _median_seconds(lambda: render_comparison(entries, redactor=Redactor.default()), repeat=1)
    observed = len(bundle["http"]) + len(bundle["websocket"]) + len(bundle["data_flows"]) + len(bundle["tls"])
    return [
        {"name": "report_render_100k_observations", "value": round(seconds, 3), "unit": "s",
         "peer": "pandas to_html of the raw tables", "peer_value": round(peer_seconds, 3),
         "ratio": round(seconds / peer_seconds, 2), "target": f"< {TARGET_S} s ({observed:,} records, 24 claims x 5,000 evidence refs)",
         "ok": seconds < TARGET_S},
        {"name": "report_html_size_100k_observations", "value": round(size / 1e6, 2), "unit": "MB",
         "peer": "pandas to_html of the raw tables", "peer_value": round(peer_size / 1e6, 2),
         "ratio": round(size / peer_size, 3), "target": "< 5 MB", "ok": size < TARGET_BYTES},
        {"name": "comparison_render_5_vendors_100k_each", "value": round(cmp_seconds, 3), "unit": "s",
         "peer": None, "peer_value": None, "ratio": None, "target": f"< {TARGET_S} s", "ok": cmp_seconds < TARGET_S},
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
