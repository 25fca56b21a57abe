"""RateLeases: a process's leased rate-limit tokens (app.lib.rate_limit)."""

from __future__ import annotations

from app.lib.rate_limit import RateLeases


def test_a_refusal_after_a_concurrent_grant_keeps_the_granted_tokens() -> None:
    # Two requests of one process missed the local lease at once: A was granted the window's last 5
    # tokens, B (answered after A) was refused because the window is now full.
    leases = RateLeases()
    assert leases.granted("k", 5, 60_000) == 0  # A: admitted, 4 left
    assert leases.granted("k", 0, 60_000) > 0  # B: refused
    assert [leases.take("k") for _ in range(4)] == [0, 0, 0, 0]  # A's tokens are still spent here
    retry_after = leases.take("k")
    assert retry_after is None  # used up: ask Redis again (which refuses while the window is full)


def test_a_refusal_without_tokens_left_refuses_locally_until_the_window_ends() -> None:
    leases = RateLeases()
    assert leases.granted("k", 0, 30_000) == 30
    retry_after = leases.take("k")
    assert retry_after is not None and 1 <= retry_after <= 30


def test_a_lease_running_low_asks_for_a_top_up_once_and_the_top_up_spends_nothing() -> None:
    leases = RateLeases()
    assert leases.granted("k", 100, 60_000) == 0  # the asking request spent one: 99 left
    low = []
    for _ in range(99):
        assert leases.take("k") == 0
        low.append(leases.running_low("k", 100))
    assert low.count(True) == 1 and low.index(True) == 99 - 25 - 1  # once, at 25 tokens left
    assert leases.granted("k", 100, 60_000, spent=0) == 0  # the background top-up, same window
    assert [leases.take("k") for _ in range(100)] == [0] * 100
    assert leases.take("k") is None


def test_strict_limits_are_not_topped_up() -> None:
    leases = RateLeases()
    leases.granted("k", 3, 60_000)
    assert not any(leases.running_low("k", 3) for _ in range(3) if leases.take("k") == 0)
