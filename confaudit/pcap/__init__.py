"""Capture-file reading: bounded, fail-closed pcap/pcapng/gzip readers yielding numpy packet chunks."""
