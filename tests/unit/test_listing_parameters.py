"""A listing's parameters as a client writes them: RFC 3339 times, whole numbers, bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.decisions.listing import DEFAULT_LIMIT, MAX_LIMIT, MAX_SEQUENCE, Listing, listing
from service.errors import InvalidInput


def test_no_parameters_list_from_the_start_a_page_of_the_default_size() -> None:
    assert listing() == Listing(None, None, 0, DEFAULT_LIMIT)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-01T00:00:00Z", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T01:30:00+01:30", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-11-30T19:00:00-05:00", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01t00:00:00.25z", datetime(2026, 12, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-12-01 00:00:00Z", datetime(2026, 12, 1, tzinfo=UTC)),  # RFC 3339 allows a space
        # Beyond what UTC can hold: before or after any record.
        ("0001-01-01T00:00:00+05:00", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31T23:00:00-05:00", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_times_are_rfc_3339_in_any_offset_read_in_utc(text: str, expected: datetime) -> None:
    assert listing(start=text).start == expected
    assert listing(end=text).end == expected


def refusal(**parameters: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        listing(**parameters)
    return refused.value


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01",  # a date, not a time
        "2026-12-01T00:00:00",  # no time zone: which moment is meant?
        "2026-12-01T00:00:00 01:00",  # a '+' a URL turned into a space
        "2026-02-30T00:00:00Z",  # no such day
        "2026-12-01T24:00:00Z",
        "2026-12-01T00:00:60Z",  # a leap second: no record is stamped with one
        "1733011200",
        "yesterday",
        "",
        "２０２６-12-01T00:00:00Z",  # digits, but not ASCII ones
    ],
)
def test_a_bad_time_is_refused_naming_its_parameter_not_its_value(text: str) -> None:
    for name, parameter in (("from", "start"), ("to", "end")):
        refused = refusal(**{parameter: text})
        assert list(refused.details) == [name]
        assert f"'{name}'" in refused.message and "RFC 3339" in refused.message
        assert text not in refused.message or not text


def test_from_after_to_is_refused() -> None:
    refused = refusal(start="2026-12-02T00:00:00Z", end="2026-12-01T00:00:00Z")
    assert list(refused.details) == ["from"] and "after 'to'" in refused.message
    same = listing(start="2026-12-01T00:00:00Z", end="2026-12-01T00:00:00Z")
    assert same.start == same.end  # an empty range, not an error


@pytest.mark.parametrize(
    "name, parameter, good, bad",
    [
        ("limit", "limit", ["1", str(MAX_LIMIT)], ["0", str(MAX_LIMIT + 1), "-5", "+5", "1e3"]),
        ("after", "after", ["0", str(MAX_SEQUENCE)], [str(MAX_SEQUENCE + 1), "-1", "1.5", "x"]),
    ],
)
def test_counts_are_plain_whole_numbers_within_their_bounds(
    name: str, parameter: str, good: list[str], bad: list[str]
) -> None:
    for text in good:
        assert getattr(listing(**{parameter: text}), name) == int(text)
    for text in [*bad, " 5", "5_000", "٣", "", "9" * 5000]:
        refused = refusal(**{parameter: text})
        assert list(refused.details) == [name], text
        assert "whole number" in refused.message
