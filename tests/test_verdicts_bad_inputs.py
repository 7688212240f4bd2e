"""Bad-input sweep of ``ptheory.verdicts``: a verdict row refuses what it cannot judge.

A row that silently accepted a NaN, a missing threshold or two thresholds would show a
verdict that means nothing; each case checks the row is refused with the argument named.
"""

from __future__ import annotations

import math

import pytest
import torch

from ptheory import verdicts
from ptheory.verdicts import CheckFailed, Verdicts

from badinput import Case, case_params, check_case, public_callables


def _row(**kw):
    args = {"claim": "error is small", "measured": 0.1, "below": 1.0} | kw
    return Verdicts("t").claim(**args)


def _control(**kw):
    args = {"claim": "wrong answer", "measured": 5.0, "below": 1.0} | kw
    return Verdicts("t").control(**args)


CASES: list[Case] = [
    Case("Verdicts", "title not a string", lambda: Verdicts(3), TypeError, "title"),
    Case("Verdicts", "claim empty", lambda: _row(claim="  "), TypeError, "claim"),
    Case("Verdicts", "claim not a string", lambda: _row(claim=1.0), TypeError, "claim"),
    Case("Verdicts", "measured NaN", lambda: _row(measured=math.nan), ValueError, "measured"),
    Case(
        "Verdicts",
        "measured NaN tensor",
        lambda: _row(measured=torch.tensor(math.nan)),
        ValueError,
        "measured",
    ),
    Case("Verdicts", "measured a string", lambda: _row(measured="0.1"), TypeError, "measured"),
    Case("Verdicts", "no threshold", lambda: _row(below=None), ValueError, "threshold"),
    Case("Verdicts", "two thresholds", lambda: _row(above=0.0), ValueError, "threshold"),
    Case("Verdicts", "threshold NaN", lambda: _row(below=math.nan), ValueError, "below"),
    Case(
        "Verdicts",
        "within not a pair",
        lambda: _row(below=None, within=(0.0,)),
        TypeError,
        "within",
    ),
    Case(
        "Verdicts",
        "within reversed",
        lambda: _row(below=None, within=(1.0, 0.0)),
        ValueError,
        "within",
    ),
    Case("Verdicts", "expect not a bool", lambda: _row(below=None, expect=1), TypeError, "expect"),
    Case(
        "Verdicts",
        "measured not a bool with expect",
        lambda: _row(below=None, expect=True),
        TypeError,
        "measured",
    ),
    Case("Verdicts", "floor not positive", lambda: _row(floor=0.0), ValueError, "floor"),
    Case("Verdicts", "digits zero", lambda: _row(digits=0), ValueError, "digits"),
    Case("Verdicts", "digits a bool", lambda: _row(digits=True), ValueError, "digits"),
    Case("Verdicts", "unit not a string", lambda: _row(unit=3), TypeError, "unit"),
    Case(
        "Verdicts",
        "control measured NaN",
        lambda: _control(measured=math.nan),
        ValueError,
        "measured",
    ),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case) -> None:
    check_case(case)


def test_a_tensor_of_many_numbers_is_refused() -> None:
    """A vector is not one measurement: torch itself refuses to make it one number."""
    with pytest.raises(RuntimeError, match="2 elements"):
        _row(measured=torch.ones(2))


def test_failing_rows_raise_check_failed_not_a_bad_input_error() -> None:
    """A false claim and an accepted control are verdicts, not bad input."""
    with pytest.raises(CheckFailed, match="claim fails"):
        _row(measured=2.0)
    with pytest.raises(CheckFailed):
        _control(measured=0.5)
    assert issubclass(CheckFailed, AssertionError)


def test_sweep_covers_every_public_callable() -> None:
    assert public_callables(verdicts) == {"Verdicts", "CheckFailed", "Row"}
    assert {c.target for c in CASES} == {"Verdicts"}  # Row is a plain record; CheckFailed an error
