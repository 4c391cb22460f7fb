"""Packets -> per-flow evidence: flows, labels, media streams, SRTP vs RTP, media path."""
