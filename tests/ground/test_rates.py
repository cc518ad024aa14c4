"""Rates as operators write them (PORCHLIGHT_CLIENT_RATE_LIMIT, a client's rate limit)."""

import pytest

from ground.rates import Rate, parse_rate


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/60", Rate(600, 60)),
        (" 10 / 1 ", Rate(10, 1)),
        ("10000000/86400", Rate(10_000_000, 86400)),
        ("unlimited", None),
        (" Unlimited ", None),
    ],
)
def test_rates_parse_what_operators_write(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "REQUESTS/SECONDS"),
        ("600 per minute", "REQUESTS/SECONDS"),
        ("-1/60", "REQUESTS/SECONDS"),
        ("1.5/60", "REQUESTS/SECONDS"),
        ("0/60", "between 1 and 10000000"),
        ("10000001/60", "between 1 and 10000000"),
        ("600/0", "window must be between 1 and 86400"),
        ("600/86401", "window must be between 1 and 86400"),
    ],
)
def test_rates_refuse_anything_else_saying_why(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_rate(text)


def test_rates_print_as_written():
    assert str(Rate(600, 60)) == "600/60"
