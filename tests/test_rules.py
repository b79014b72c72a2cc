"""The two alert rules of SPEC §6."""

from decimal import Decimal

from core.rules import excess_threshold, is_variation

D = Decimal


def test_excess_needs_at_least_one_closed_bill():
    assert excess_threshold([], D(150)) is None


def test_excess_threshold_is_the_mean_of_the_last_three_plus_the_margin():
    assert excess_threshold([D(100)], D(150)) == D(250)
    assert excess_threshold([D(900), D(100), D(200), D(300)], D(150)) == D(350)


def test_variation_is_symmetric_and_inclusive():
    assert is_variation(D(300), D(200), D(100))
    assert is_variation(D(100), D(200), D(100))
    assert not is_variation(D("299.999"), D(200), D(100))
