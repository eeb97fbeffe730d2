"""Failed authentications are counted per source address: a source over the limit is refused
for a window, with one warning, and starts afresh when the window has passed."""

from __future__ import annotations

import logging

import pytest

from tests.support.inprocess import Throttle, source_of


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("peer", "source"),
    [
        ("ipv4:10.0.0.7:51234", "10.0.0.7"),
        ("ipv6:[::1]:51234", "::1"),
        ("ipv6:[2001:db8::5]:443", "2001:db8::5"),
        ("unix:/run/modelyard.sock", "unix:/run/modelyard.sock"),
    ],
)
def test_a_source_is_the_peer_address_without_its_port(peer: str, source: str) -> None:
    assert source_of(peer) == source


def test_the_failure_that_reaches_the_limit_refuses_the_source_for_a_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttle = Throttle(limit=3, window_seconds=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="modelyard.auth"):
        for _ in range(2):
            throttle.failed("10.0.0.7")
        assert throttle.retry_after("10.0.0.7") is None
        throttle.failed("10.0.0.7")
        clock.now += 15
        assert throttle.retry_after("10.0.0.7") == 45
        assert throttle.retry_after("10.0.0.8") is None, "other sources are not refused"
        throttle.failed("10.0.0.7")  # a refused source's further failures add no warning
    assert [r.getMessage() for r in caplog.records] == [
        "refusing authentication from 10.0.0.7 for 60 s: 3 failed attempts within 60 s"
    ]
    clock.now += 45
    assert throttle.retry_after("10.0.0.7") is None
    throttle.failed("10.0.0.7")
    assert throttle.retry_after("10.0.0.7") is None, "a fresh start after the refusal"


def test_failures_spread_wider_than_the_window_do_not_add_up() -> None:
    clock = Clock()
    throttle = Throttle(limit=3, window_seconds=60, clock=clock)
    for _ in range(6):
        throttle.failed("10.0.0.7")
        clock.now += 31
    assert throttle.retry_after("10.0.0.7") is None
