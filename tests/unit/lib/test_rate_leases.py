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
