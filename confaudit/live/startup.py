"""What `confaudit capture` checks before it records anything, and how a failed start leaves nothing behind.

A port in use, an unknown interface or a bad ``--set`` must end with one line naming the problem, exit 3 (2
for option errors), and no half-written session directory that would make a retry with the same ``--out``
refuse to start.
"""

from __future__ import annotations

import errno
import logging
import shutil
import socket
import ssl
from pathlib import Path
from typing import Any

from confaudit.errors import InputError, UsageError

OWN_OPTION_PREFIX = "confaudit_"
"""The addon's own mitmproxy options: `capture` sets them from its flags (``--out`` is the session)."""


def prepare_directory(out: Path) -> Path | None:
    """Create the session directory, private; return the topmost directory this call created (what a failed
    start removes again), or None when ``out`` existed (empty) already. UsageError when it is not empty."""
    from confaudit.session.directory import make_private_directory

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: session directory exists and is not empty; choose a new --out")
    created = None
    probe = out.absolute()
    while not probe.exists():
        created = probe
        probe = probe.parent
    make_private_directory(out)
    return created


def discard_directory(out: Path, created: Path | None) -> None:
    """Undo :func:`prepare_directory` after a failed start: remove what it created, or empty ``out`` again
    when it was there before."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for entry in list(out.iterdir()) if out.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def check_listen_addresses(opts: Any) -> None:
    """Bind every address the proxy's modes will listen on once (as mitmproxy will: SO_REUSEADDR, TCP and/or
    UDP by mode) and let it go again: a port in use or an address not on this machine is reported before
    anything is written. Port 0 always binds; modes without an address (local) are skipped."""
    from mitmproxy.proxy.mode_specs import ProxyMode

    for spec in opts.mode:
        mode = ProxyMode.parse(spec)
        port = mode.listen_port(opts.listen_port)
        if port is None:
            continue
        kinds = {"tcp": (socket.SOCK_STREAM,), "udp": (socket.SOCK_DGRAM,)}.get(
            mode.transport_protocol, (socket.SOCK_STREAM, socket.SOCK_DGRAM))
        for kind in kinds:
            check_listen_address(mode.listen_host(opts.listen_host), port, kind)


def check_listen_address(host: str, port: int, kind: int = socket.SOCK_STREAM) -> None:
    """One bind of ``host:port`` (``kind``: SOCK_STREAM or SOCK_DGRAM); InputError naming it when refused."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"--listen-host {host}", f"cannot resolve: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = "; another proxy running? pick another --listen-port (0: any free port)" \
                if exc.errno == errno.EADDRINUSE else ""
            what = "" if kind == socket.SOCK_STREAM else " (UDP)"
            raise InputError(f"{host or '*'}:{port}{what}", f"cannot listen: {exc.strerror or exc}{hint}") from None


def check_upstream_ca(path: Path) -> None:
    """``--upstream-ca`` must be a readable PEM file holding at least one certificate (a private CA, or a
    self-signed server certificate trusted as is)."""
    try:
        context = ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        raise InputError(path, "no such file (--upstream-ca)") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory; --upstream-ca takes one PEM file") from None
    except PermissionError:
        raise InputError(path, "permission denied (--upstream-ca)") from None
    except ssl.SSLError as exc:
        raise InputError(path, f"not a PEM certificate file (--upstream-ca): {exc.reason or exc}") from None
    if not context.cert_store_stats()["x509"]:
        raise InputError(path, "holds no certificate (--upstream-ca)")


def apply_option_specs(opts: Any, specs: tuple[str, ...]) -> None:
    """``--set key=value`` for mitmproxy's options (every option the master's addons declare), parsed by
    mitmproxy itself; an unknown key or a bad value is a UsageError naming the spec."""
    from mitmproxy import exceptions

    for spec in specs:
        key, sep, _ = spec.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {spec}: expected key=value (a mitmproxy option, e.g. --set ssl_insecure=true)")
        if key.startswith(OWN_OPTION_PREFIX):
            raise UsageError(f"--set {spec}: confaudit's own options are set by capture's flags (--out, --vendor, ...)")
        if key not in opts:
            raise UsageError(f"--set {spec}: no such mitmproxy option {key!r} (see `mitmdump --options`)")
        choices = getattr(opts._options.get(key), "choices", None)  # mitmproxy enforces choices only in its UIs
        if choices and spec.partition("=")[2] not in choices:
            raise UsageError(f"--set {spec}: {key} must be one of {', '.join(choices)}")
        try:
            opts.set(spec)
        except exceptions.OptionsError as exc:
            raise UsageError(f"--set {spec}: {exc}") from None


class StartupErrors(logging.Handler):
    """Collects what mitmproxy logs as an error while it starts (a port it cannot bind), in place of its
    ErrorCheck addon, which prints "Error logged during startup, exiting..." and calls sys.exit(1)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("mitmproxy") and len(self.messages) < 20:
            self.messages.append(record.getMessage().strip().splitlines()[0] if record.getMessage().strip() else "error")

    @classmethod
    def replace_errorcheck(cls, master: Any) -> "StartupErrors":
        checker = master.addons.get("errorcheck")
        if checker is not None:
            master.addons.remove(checker)
            checker.finish()  # removes its log handler
        handler = cls()
        logging.getLogger().addHandler(handler)
        return handler

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
