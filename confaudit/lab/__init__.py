"""Lab: a real WebRTC call on loopback whose ground truth is known, to test the analysis."""
