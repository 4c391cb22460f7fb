"""Query pairs decoded once per (name, value) give the fields decoding the whole query gives, limit included;
remembered form pieces redact as the first time."""

from __future__ import annotations

from confaudit.redact import Redactor
from confaudit.telemetry.decode import MAX_FIELDS
from confaudit.telemetry.fields import SharedLists, _list_fields


def test_remembered_pairs_decode_as_the_whole_query() -> None:
    shared = SharedLists()
    token = Redactor(b"k" * 32).token("access_token", "t0")
    queries = [[["seq", str(i)], ["participant", "3"], ["access_token", token], ["d", '{"a":[1,"x%20y"]}'],
                ["b", "eyJyb29tIjoiUm9vbSAxIn0"]] for i in range(3)]
    for query in queries:
        assert shared.fields("query", query) == _list_fields("query", query)


def test_a_query_past_the_field_limit_is_cut_where_the_decoder_cuts_it() -> None:
    shared = SharedLists()
    nested = '{"k":[' + ",".join(['"v"'] * 40) + "]}"  # one pair, 41 fields
    query = [[f"p{i % 7}", nested] for i in range(MAX_FIELDS // 41 + 5)]
    fields = shared.fields("query", query)
    assert len(fields) == MAX_FIELDS and fields == _list_fields("query", query)


def test_form_pieces_redact_the_same_when_remembered() -> None:
    redactor = Redactor(b"k" * 32)
    body = "v=1&password=hunter2&note=Bearer%20abcdefghijk&plain&x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    first = redactor.form(body)
    assert "hunter2" not in first and "abcdefghijk" not in first
    assert redactor.form(body) == first == Redactor(b"k" * 32).form(body)
