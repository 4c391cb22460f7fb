"""The auditor's offline country table: address -> ISO 3166-1 alpha-2 country, read from a file, never fetched.

Two formats, told apart by content (the first line that is neither empty nor a ``#`` comment):

- RIR delegated statistics (``delegated-<rir>-latest`` / ``-extended-latest`` from AFRINIC, APNIC, ARIN, LACNIC,
  RIPE NCC, or the NRO's combined file): ``registry|cc|type|start|value|date|status[|...]``. ``ipv4`` rows give
  the first address and an address count (any count, not only powers of two), ``ipv6`` rows the first address and
  a prefix length; ``asn`` rows, the version line, ``summary`` lines and rows whose ``cc`` is empty or ``*`` are
  skipped. Several registries' files may be concatenated.
- CSV ``network,country``: a CIDR block (or one address) and its country, one per line; the first line may be a
  header.

The country a registry records is the country of the holder the block was delegated to, which is not always where
a server stands (anycast, CDNs, multinational networks): the table says where an address is *registered* (RIR
files) or wherever the auditor's CSV says. ``ZZ`` (unknown) covers its range with no country.

Blocks must nest or be disjoint, as CIDR blocks always do: the most specific block containing an address wins
(a /24 inside a /8). Two blocks that overlap without one containing the other, or one block given two countries,
make the table ambiguous and are refused. Lookups bisect over the sorted blocks, then climb to the enclosing ones.

Special-use addresses (loopback, private, CGNAT, link-local, documentation, multicast, reserved: see
:func:`confaudit.analysis.addresses.address_class`) never get a country, whatever the table says.

A bad file is an :class:`~confaudit.errors.InputError` naming ``file:line`` and the problem, in one line.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from confaudit.analysis.addresses import address_class
from confaudit.errors import InputError

MAX_TABLE_BYTES = 128 * 1024 * 1024
"""Largest table file read (the NRO's combined delegated file of every registry is about 40 MB)."""
MAX_ROWS = 2_000_000
"""Most address rows read from one table."""
MAX_LINE = 4096
"""Longest line read (characters)."""

TableFormat = Literal["rir-delegated", "csv"]
_CC = re.compile(r"^[A-Za-z]{2}$")
_UNKNOWN_CC = "ZZ"
_RIR_TYPES = ("ipv4", "ipv6", "asn")


@dataclass
class _Family:
    """The blocks of one address family, sorted by (start, -end): bisect finds the innermost block starting at or
    before an address, ``parent`` climbs to the blocks that contain it."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    countries: list[str | None] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def lookup(self, value: int) -> tuple[bool, str | None]:
        """(covered, country) of the most specific block containing ``value``."""
        i = bisect.bisect_right(self.starts, value) - 1
        while i >= 0:
            if self.ends[i] >= value:
                return True, self.countries[i]
            i = self.parents[i]
        return False, None


@dataclass(frozen=True)
class CountryTable:
    """A loaded country table and its provenance (recorded in the evidence's ``country_table``)."""

    path: str
    """The file as given (relative to the working directory, or beside the claims file that names it)."""
    sha256: str
    """SHA-256 of the file's bytes."""
    rows: int
    """Address rows read (IPv4 and IPv6; ``asn`` and summary lines are not counted)."""
    format: TableFormat
    """``rir-delegated`` or ``csv``."""
    _v4: _Family
    _v6: _Family

    def covers(self, address: str) -> tuple[bool, str | None]:
        """(covered, country): whether a block of the table contains ``address`` and that block's country (None for
        ``ZZ``). Special-use and unparsable addresses are never covered."""
        ip = _public_ip(address)
        if ip is None:
            return False, None
        return (self._v4 if ip.version == 4 else self._v6).lookup(int(ip))

    def country(self, address: str) -> str | None:
        """The country of ``address``, or None: special-use, not in the table, or in a ``ZZ`` block."""
        return self.covers(address)[1]


def locatable(address: str) -> bool:
    """Whether ``address`` can have a country at all: a public IPv4 or IPv6 address (IPv4-mapped IPv6 included)."""
    return _public_ip(address) is not None


def _public_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(address, str):
        return None
    text = address.strip().strip("[]").split("%", 1)[0]
    if address_class(text) != "public":
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


@dataclass
class _Row:
    start: int
    end: int
    country: str | None
    line: int
    version: int


def load_country_table(path: str | Path) -> CountryTable:
    """Read and index ``path``; InputError naming ``file:line`` for anything it cannot use."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_TABLE_BYTES + 1)
    except OSError as exc:
        raise InputError(path, exc.strerror or "cannot read country table") from None
    if len(raw) > MAX_TABLE_BYTES:
        raise InputError(path, f"country table is larger than {MAX_TABLE_BYTES // (1024 * 1024)} MiB")
    lines = _lines(raw, str(path))
    first = next((text for _, text in lines if text and not text.startswith("#")), None)
    if first is None:
        raise InputError(path, "country table is empty (no RIR delegated statistics or network,country lines)")
    fmt: TableFormat
    if "|" in first:
        fmt, rows = "rir-delegated", _rir_rows(lines, str(path))
    elif "," in first:
        fmt, rows = "csv", _csv_rows(lines, str(path))
    else:
        raise InputError(path, "not a country table: expected RIR delegated statistics "
                               "(registry|cc|type|start|value|date|status) or CSV network,country lines")
    if not any(rows.values()):
        raise InputError(path, "country table has no IPv4 or IPv6 rows")
    v4, v6 = _index(rows[4], str(path)), _index(rows[6], str(path))
    return CountryTable(str(path), hashlib.sha256(raw).hexdigest(), len(rows[4]) + len(rows[6]), fmt, v4, v6)


def _lines(raw: bytes, source: str) -> list[tuple[int, str]]:
    """(line number, stripped text); a line that is not UTF-8 or too long is refused."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out = []
    for number, chunk in enumerate(raw.splitlines(), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source}:{number}", "country table line is not UTF-8 text") from None
        if len(text) > MAX_LINE:
            raise InputError(f"{source}:{number}", f"country table line is longer than {MAX_LINE} characters")
        out.append((number, text.strip()))
    return out


def _country(value: str, where: str) -> str | None:
    if not _CC.match(value):
        raise InputError(where, f"country {_show(value)} is not an ISO 3166-1 alpha-2 code (two letters)")
    cc = value.upper()
    return None if cc == _UNKNOWN_CC else cc


def _show(value: str) -> str:
    return repr(value[:60] + ("…" if len(value) > 60 else ""))


def _add(rows: dict[int, list[_Row]], row: _Row, version: int, where: str) -> None:
    rows[version].append(row)
    if len(rows[4]) + len(rows[6]) > MAX_ROWS:
        raise InputError(where, f"country table has more than {MAX_ROWS} address rows")


def _rir_rows(lines: list[tuple[int, str]], source: str) -> dict[int, list[_Row]]:
    rows: dict[int, list[_Row]] = {4: [], 6: []}
    for number, text in lines:
        if not text or text.startswith("#"):
            continue
        where = f"{source}:{number}"
        fields = text.split("|")
        if fields[0][:1].isdigit():  # version line: version|registry|serial|records|startdate|enddate|UTCoffset
            continue
        if len(fields) >= 6 and fields[1] == "*" and fields[-1] == "summary":  # registry|*|type|*|count|summary
            continue
        if len(fields) < 7:
            raise InputError(where, "RIR delegated statistics line needs registry|cc|type|start|value|date|status "
                                    f"(got {len(fields)} field{'s' if len(fields) != 1 else ''})")
        cc, kind, start, value = fields[1].strip(), fields[2].strip().lower(), fields[3].strip(), fields[4].strip()
        if kind not in _RIR_TYPES:
            raise InputError(where, f"RIR record type {_show(kind)} is not ipv4, ipv6 or asn")
        if kind == "asn" or cc in ("", "*"):
            continue
        country = _country(cc, where)
        if not value.isdigit():
            raise InputError(where, f"RIR {kind} value {_show(value)} is not a number")
        count = int(value)
        try:
            first = ipaddress.IPv4Address(start) if kind == "ipv4" else ipaddress.IPv6Address(start)
        except ValueError:
            raise InputError(where, f"RIR {kind} start {_show(start)} is not an {kind.upper()} address") from None
        if kind == "ipv4":
            if count < 1 or int(first) + count - 1 > 0xFFFFFFFF:
                raise InputError(where, f"RIR ipv4 count {count} from {first} does not fit the IPv4 address space")
            _add(rows, _Row(int(first), int(first) + count - 1, country, number, 4), 4, where)
        else:
            if count > 128:
                raise InputError(where, f"RIR ipv6 prefix length {count} is above 128")
            try:
                net = ipaddress.IPv6Network(f"{first}/{count}")
            except ValueError:
                raise InputError(where, f"RIR ipv6 block {first}/{count} has bits set past its prefix length") from None
            _add(rows, _Row(int(net.network_address), int(net.broadcast_address), country, number, 6), 6, where)
    return rows


def _csv_rows(lines: list[tuple[int, str]], source: str) -> dict[int, list[_Row]]:
    rows: dict[int, list[_Row]] = {4: [], 6: []}
    first_record = True
    for number, text in lines:
        if not text or text.startswith("#"):
            continue
        where = f"{source}:{number}"
        try:
            fields = [f.strip() for f in next(csv.reader([text]))]
        except csv.Error as exc:
            raise InputError(where, f"country table line is not CSV ({exc})") from None
        if len(fields) != 2:
            raise InputError(where, f"country table line needs two columns network,country (got {len(fields)})")
        network, cc = fields
        try:
            net = ipaddress.ip_network(network)
        except ValueError as exc:
            if first_record and (not any(ch.isdigit() for ch in network) or not _CC.match(cc)):  # network,country
                first_record = False
                continue
            why = "has bits set past its prefix length" if "host bits set" in str(exc) else "is not a CIDR network"
            raise InputError(where, f"network {_show(network)} {why}") from None
        first_record = False
        _add(rows, _Row(int(net.network_address), int(net.broadcast_address), _country(cc, where), number, net.version),
             net.version, where)
    return rows


def _index(rows: list[_Row], source: str) -> _Family:
    """Sort the blocks outer-first and link each to the innermost block containing it; refuse ambiguity."""
    rows.sort(key=lambda r: (r.start, -r.end, r.line))
    family = _Family()
    stack: list[int] = []  # indices of the open blocks, outermost first
    for row in rows:
        if family.starts and family.starts[-1] == row.start and family.ends[-1] == row.end:
            if family.countries[-1] != row.country:
                raise InputError(f"{source}:{row.line}", f"{_span(row.start, row.end, row.version)} is given "
                                 f"{row.country or _UNKNOWN_CC} here and {family.countries[-1] or _UNKNOWN_CC} on line "
                                 f"{family.lines[-1]}: the table is ambiguous")
            continue  # the same block twice with the same country
        while stack and family.ends[stack[-1]] < row.start:
            stack.pop()
        if stack and family.ends[stack[-1]] < row.end:
            outer = stack[-1]
            first, second = sorted((row.line, family.lines[outer]))
            raise InputError(f"{source}:{second}", f"{_span(row.start, row.end, row.version)} and "
                             f"{_span(family.starts[outer], family.ends[outer], row.version)} (lines {first} and {second}) "
                             "overlap without either containing the other: the table is ambiguous")
        family.starts.append(row.start)
        family.ends.append(row.end)
        family.countries.append(row.country)
        family.parents.append(stack[-1] if stack else -1)
        family.lines.append(row.line)
        stack.append(len(family.starts) - 1)
    return family


def _span(start: int, end: int, version: int) -> str:
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return f"{make(start)}-{make(end)}"
