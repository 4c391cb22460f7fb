"""benchmarks/peers.py: the outputs of ndpiReader, tshark's conversation tables and NFStream, checked against
confaudit's bundle of the same capture (real tools on a small synthetic call), and a wrong output is caught."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import peers
from benchmarks.synth_call import write_pcap

PACKETS = 20_000


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A synthetic call capture and confaudit's bundle of it."""
    tmp = tmp_path_factory.mktemp("peers")
    path, out = tmp / "call.pcap", tmp / "evidence.json"
    write_pcap(path, PACKETS)
    subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(path), "--json", str(out), "-q"], check=True)
    return path, json.loads(out.read_text(encoding="utf-8"))


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} not installed (scripts/sysdeps.sh installs it)")
    return exe


def test_ndpireader_flows_and_labels_agree_and_a_wrong_label_is_caught(call: tuple[Path, dict]) -> None:
    path, bundle = call
    text = subprocess.run([_tool("ndpiReader"), "-i", str(path), "-q", "-v", "2"], capture_output=True, text=True,
                          check=True).stdout
    check = peers.ndpi_check(text, bundle)
    assert check.problem is None, check.summary()
    assert check.peer_flows == check.matched == check.ours == len(bundle["flows"]) > 20
    assert check.labelled > 20 and check.labels_agree == check.labelled
    relabelled = re.sub(r"\[proto: [0-9.]+/STUN\]", "[proto: 7/HTTP]", text)  # nDPI calling the STUN flows HTTP
    wrong = peers.ndpi_check(relabelled, bundle)
    assert wrong.labels_agree < wrong.labelled and "labels agree" in (wrong.problem or "")


def test_tshark_conversations_match_flows_and_packet_counts(call: tuple[Path, dict]) -> None:
    path, bundle = call
    text = subprocess.run([_tool("tshark"), "-n", "-q", "-r", str(path), "-z", "conv,udp", "-z", "conv,tcp"],
                          capture_output=True, text=True, check=True).stdout
    check = peers.conv_check(text, bundle)
    assert check.problem is None, check.summary()
    assert check.peer_flows == check.matched == sum(f["transport"] in ("tcp", "udp") for f in bundle["flows"]) > 20
    # one conversation's total frames off by one: that flow no longer matches
    line = next(ln for ln in text.splitlines() if "<->" in ln)
    fields = line.split()
    broken = text.replace(line, line.replace(f" {fields[9]} ", f" {int(fields[9]) + 1} ", 1))
    assert peers.conv_check(broken, bundle).matched == check.matched - 1
    assert peers.conv_check("", bundle).problem == "the peer listed no flows"


def test_nfstream_flows_and_labels_agree(call: tuple[Path, dict], tmp_path: Path) -> None:
    path, bundle = call
    out = tmp_path / "nfstream.jsonl"
    subprocess.run([sys.executable, "-c", peers.NFSTREAM_SCRIPT, str(path), str(out)], check=True)
    check = peers.nfstream_check(out.read_text(encoding="utf-8"), bundle)
    assert check.problem is None, check.summary()
    assert check.peer_flows == check.matched == len(bundle["flows"]) and check.labels_agree == check.labelled > 20
    # half the flows missing from confaudit's bundle: the check fails
    halved = dict(bundle, flows=bundle["flows"][::2])
    assert "flows match" in (peers.nfstream_check(out.read_text(encoding="utf-8"), halved).problem or "")
