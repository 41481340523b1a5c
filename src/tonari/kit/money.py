"""Integer arithmetic for money and points: the one place where rounding happens.

Money is in minor units (kopecks, cents), points are integers, rates are basis points
(1 bp = 0.01%). A division that leaves a remainder is resolved by a named rounding rule.
"""

from __future__ import annotations

from enum import StrEnum

BASIS_POINTS = 10_000


class Rounding(StrEnum):
    HALF_EVEN = "half_even"
    HALF_UP = "half_up"
    DOWN = "down"
    UP = "up"


def divide(numerator: int, denominator: int, rounding: Rounding = Rounding.HALF_EVEN) -> int:
    """``numerator / denominator`` rounded by ``rounding``; both integers, denominator > 0."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0:
        return quotient
    if rounding is Rounding.DOWN:
        # toward zero, so a negative amount never grows by rounding
        return quotient if numerator >= 0 else quotient + 1
    if rounding is Rounding.UP:
        return quotient + 1 if numerator >= 0 else quotient
    twice = 2 * remainder
    if twice > denominator:
        return quotient + 1
    if twice < denominator:
        return quotient
    if rounding is Rounding.HALF_UP:
        return quotient + 1 if numerator >= 0 else quotient
    return quotient + (quotient % 2)


def apply_rate(amount: int, rate_bp: int, rounding: Rounding = Rounding.HALF_EVEN) -> int:
    """``amount × rate_bp / 10,000`` rounded by ``rounding``."""
    return divide(amount * rate_bp, BASIS_POINTS, rounding)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` over ``weights`` proportionally; the parts always sum to ``total``.

    Largest-remainder method, ties to the earlier weight, so a split is reproducible.
    """
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(weights)
        raise ValueError("cannot allocate a non-zero total over zero weights")
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    short = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:short]:
        floors[i] += 1
    return floors
