"""Run as ``python -m pytest -q -p no:cacheprovider sample_suite.py``: pytest's assertion
rewriting explains a failing ``assert`` (the values compared), a fixture, a parametrised
test, a skip and an expected failure; exit status 1. The runner blanks pytest's timing.
(Not named ``test_*.py``, so that the recorder's own test run does not collect it; a file
named on pytest's command line is collected and rewritten whatever its name.)"""
import pytest


@pytest.fixture
def numbers():
    return [1, 2, 3]


def total(values):
    return sum(values)


def test_passes(numbers):
    assert total(numbers) == 6


@pytest.mark.parametrize("n, expected", [(1, 1), (2, 4), (3, 10)])
def test_square(n, expected):
    assert n * n == expected


def test_rewritten_message(numbers):
    expected = {"total": 7, "items": numbers}
    assert {"total": total(numbers), "items": numbers} == expected


@pytest.mark.skip(reason="shown as skipped")
def test_skipped():
    raise AssertionError


@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert total([]) == 1
