"""Live capture (mitmproxy addon, sniffer), session bundles and HTTP-side importers."""
