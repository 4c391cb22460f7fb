"""The auditor's offline country table (confaudit.analysis.countries): RIR delegated statistics and CSV
network,country, most-specific-block lookups over IPv4 and IPv6, special-use addresses never located, and bad files
refused in one line naming file:line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from confaudit.analysis import countries
from confaudit.analysis.countries import load_country_table, locatable
from confaudit.errors import InputError

# A RIR delegated file as the registries publish it: the version line, summary lines, asn rows, an ipv4 count that is
# not a power of two, an ipv6 prefix length, an available block without a country and a reserved one marked ZZ.
RIR = """\
# delegated-ripencc-extended-latest (cut down by hand)
2.3|ripencc|20240101|9|19830705|20240101|+0100
ripencc|*|asn|*|1|summary
ripencc|*|ipv4|*|5|summary
ripencc|*|ipv6|*|2|summary
ripencc|DE|asn|3320|1|19930901|allocated|abc
ripencc|DE|ipv4|5.0.0.0|768|20100101|allocated|abc
ripencc|FR|ipv4|5.0.1.0|256|20100101|assigned|def
ripencc|IE|ipv4|31.13.64.0|16384|20100101|allocated|fb
ripencc||ipv4|6.0.0.0|256||available
ripencc|ZZ|ipv4|7.0.0.0|256||reserved
ripencc|NL|ipv6|2a00:1450::|29|20100101|allocated|ghi
ripencc|BE|ipv6|2a00:1450:4000::|37|20100101|assigned|jkl
"""

CSV = """\
network,country
142.250.0.0/15,US
142.250.82.0/24,ie
2001:4860::/32,US
9.9.9.9,CH
"""


def write(tmp_path: Path, text: str | bytes, name: str = "table.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_rir_delegated_file_with_counts_that_are_not_powers_of_two(tmp_path: Path) -> None:
    table = load_country_table(write(tmp_path, RIR))
    assert (table.format, table.rows) == ("rir-delegated", 6)  # the available block has no cc: not a row
    assert table.sha256 == hashlib.sha256(RIR.encode()).hexdigest()
    # 5.0.0.0 + 768 addresses is 5.0.0.0-5.0.2.255: three /24s, no single CIDR block; 5.0.1.0/24 inside it is FR
    assert [table.country(a) for a in ("5.0.0.1", "5.0.1.7", "5.0.2.255", "5.0.3.0")] == ["DE", "FR", "DE", None]
    assert [table.country(a) for a in ("31.13.64.0", "31.13.127.255", "31.13.128.0")] == ["IE", "IE", None]
    assert table.covers("6.0.0.1") == (False, None)  # available: no cc, skipped
    assert table.covers("7.0.0.1") == (True, None)  # reserved, ZZ: covered, no country


def test_ipv6_and_the_most_specific_block_wins(tmp_path: Path) -> None:
    table = load_country_table(write(tmp_path, RIR))
    assert table.country("2a00:1450:4001::1") == "BE"  # the /37 inside the /29
    assert table.country("2a00:1450:8000::1") == "NL"
    assert table.country("2a00:1457:ffff::1") == "NL" and table.country("2a00:1458::1") is None
    assert table.country("[2a00:1450:4001::1]") == "BE"  # as a URL or an endpoint writes it
    assert table.country("::ffff:5.0.1.1") == "FR"  # IPv4-mapped IPv6 is the IPv4 address


def test_csv_with_header_lower_case_code_single_address_and_nested_block(tmp_path: Path) -> None:
    table = load_country_table(write(tmp_path, CSV, "t.csv"))
    assert (table.format, table.rows) == ("csv", 4)
    assert table.country("142.250.82.76") == "IE"  # the /24 inside the /15, whatever the line order
    assert table.country("142.251.1.1") == "US"
    assert table.country("2001:4860:4864:6::81") == "US"
    assert table.country("9.9.9.9") == "CH" and table.country("9.9.9.10") is None
    reordered = write(tmp_path, "142.250.82.0/24,IE\n142.250.0.0/15,US\n", "r.csv")  # no header, inner block first
    assert load_country_table(reordered).country("142.250.82.76") == "IE"


def test_many_nested_and_disjoint_blocks_match_a_linear_scan(tmp_path: Path) -> None:
    import ipaddress
    import random

    rng = random.Random(7)
    blocks = {}
    for _ in range(400):
        prefix = rng.choice((8, 12, 16, 20, 24, 28, 32))
        net = ipaddress.ip_network(f"{rng.choice((11, 12, 13))}.{rng.randrange(256)}.{rng.randrange(256)}.0/{prefix}", strict=False)
        blocks[net] = rng.choice(("DE", "FR", "US", "JP"))
    table = load_country_table(write(tmp_path, "".join(f"{n},{c}\n" for n, c in blocks.items()), "many.csv"))
    for _ in range(3000):
        ip = ipaddress.ip_address(f"{rng.choice((11, 12, 13, 14))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}")
        containing = [n for n in blocks if ip in n]
        expected = blocks[max(containing, key=lambda n: n.prefixlen)] if containing else None
        assert table.country(str(ip)) == expected, ip


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.1", "100.64.0.1", "127.0.0.1", "169.254.1.1",
                                     "192.0.2.1", "203.0.113.9", "2001:db8::1", "fc00::1", "::1", "ff02::1",
                                     "not-an-address", ""])
def test_special_use_addresses_never_get_a_country(tmp_path: Path, address: str) -> None:
    """Even a table that (wrongly) names them: private, CGNAT, loopback, documentation ... have no country."""
    table = load_country_table(write(tmp_path, "0.0.0.0/0,US\n::/0,US\n", "all.csv"))
    assert not locatable(address)
    assert table.covers(address) == (False, None)
    assert table.country("8.8.8.8") == "US" and locatable("8.8.8.8")


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("network,country\n1.2.3.0/24,DE\n1.2.4.0/33,DE\n", 3, "is not a CIDR network"),
    ("1.2.3.0/24,DE\n1.2.3.1/24,FR\n", 2, "has bits set past its prefix length"),
    ("1.2.3.0/24,DEU\n", 1, "'DEU' is not an ISO 3166-1 alpha-2 code"),
    ("1.2.3.0/24,DE,extra\n", 1, "needs two columns network,country (got 3)"),
    ("1.2.3.0/24,DE\n1.2.3.0/24,FR\n", 2, "1.2.3.0-1.2.3.255 is given FR here and DE on line 1"),
    ("ripencc|DE|ipv4|1.2.3.0|256|20100101|allocated\nripencc|FR|ipv4|1.2.3.128|256|20100101|allocated\n", 2,
     "overlap without either containing the other"),
    ("ripencc|DE|ipv4|1.2.3.0|abc|20100101|allocated\n", 1, "RIR ipv4 value 'abc' is not a number"),
    ("ripencc|DE|ipv4|255.255.255.0|512|20100101|allocated\n", 1, "does not fit the IPv4 address space"),
    ("ripencc|DE|ipv4|1.2.3|256|20100101|allocated\n", 1, "RIR ipv4 start '1.2.3' is not an IPV4 address"),
    ("ripencc|DE|ipv6|2a00::|129|20100101|allocated\n", 1, "prefix length 129 is above 128"),
    ("ripencc|DE|ipv6|2a00::1|32|20100101|allocated\n", 1, "has bits set past its prefix length"),
    ("ripencc|DE|ipv5|1.2.3.0|256|20100101|allocated\n", 1, "'ipv5' is not ipv4, ipv6 or asn"),
    ("# comment\nripencc|DE|ipv4|1.2.3.0\n", 2, "needs registry|cc|type|start|value|date|status (got 4 fields)"),
    (b"1.2.3.0/24,DE\n\xff\xfe,US\n", 2, "is not UTF-8 text"),
])
def test_bad_lines_are_refused_naming_file_and_line(tmp_path: Path, text: str | bytes, line: int, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_country_table(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: ") and problem in message and "\n" not in message, message


@pytest.mark.parametrize(("text", "problem"), [
    ("", "country table is empty"),
    ("# only comments\n\n", "country table is empty"),
    ("hello world\n", "not a country table"),
    ("ripencc|DE|asn|3320|1|19930901|allocated\n", "country table has no IPv4 or IPv6 rows"),
])
def test_files_that_are_no_table_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_country_table(path)
    assert str(err.value) == f"{path}: {problem}" or str(err.value).startswith(f"{path}: {problem}")


def test_size_limits_and_unreadable_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(countries, "MAX_TABLE_BYTES", 64)
    big = write(tmp_path, "1.2.3.0/24,DE\n" * 10)
    with pytest.raises(InputError, match="larger than"):
        load_country_table(big)
    monkeypatch.setattr(countries, "MAX_TABLE_BYTES", 1 << 20)
    monkeypatch.setattr(countries, "MAX_ROWS", 3)
    rows = write(tmp_path, "".join(f"1.2.{i}.0/24,DE\n" for i in range(5)))
    with pytest.raises(InputError) as err:
        load_country_table(rows)
    assert str(err.value).startswith(f"{rows}:4: ") and "more than 3 address rows" in str(err.value)
    monkeypatch.setattr(countries, "MAX_LINE", 20)
    long = write(tmp_path, "1.2.3.0/24,DE\n" + "#" * 30 + "\n")
    with pytest.raises(InputError, match=f"{long}:2: country table line is longer than 20"):
        load_country_table(long)
    with pytest.raises(InputError, match="No such file"):
        load_country_table(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="Is a directory"):
        load_country_table(tmp_path)
