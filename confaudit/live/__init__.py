"""Live capture: the proxy (an in-process mitmproxy master with the recorder addons), the packet sniffer, the live panel."""
