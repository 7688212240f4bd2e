"""The exercise-check framework: feedback, answer readers, and the decorator's contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptheory.exercises import Feedback
from ptheory.exercises._core import (
    Wrong,
    as_array,
    as_function,
    as_integer,
    as_number,
    call,
    exercise_check,
    expect_close,
    registered_checks,
)


@exercise_check("ex-test-two")
def _check_two(answer):
    expect_close(as_number(answer), 2.0, rtol=1e-3)


def test_feedback_states() -> None:
    assert _check_two(...).status == "missing"
    assert _check_two(None).status == "missing"
    good = _check_two(2.0005)
    assert good and good.passed and good.status == "correct"
    bad = _check_two(3)
    assert not bad and bad.status == "wrong"
    assert "too large" in bad.message
    assert "ex-test-two" in str(bad) and "ex-test-two" in bad._repr_html_()


def test_wrong_messages_never_show_the_target() -> None:
    for value in (1.0, 3.0, 2.5, -7.0):
        message = _check_two(value).message
        assert "2.0" not in message and " 2 " not in message
        assert ("too large" in message) == (value > 2)


def test_accepts_every_numeric_form() -> None:
    for form in (2, 2.0, np.float32(2.0), np.array(2.0), torch.tensor([2.0]), [2.0][0]):
        assert _check_two(form), form


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ("2", "must be a number, got str"),
        (True, "must be a number, got bool"),
        (float("nan"), "finite"),
        (np.array([2.0, 2.0]), "single number"),
        (torch.ones(3), "single number"),
        ({"a": 2}, "must be a number, got dict"),
    ],
)
def test_bad_forms_are_named(answer, phrase) -> None:
    feedback = _check_two(answer)
    assert feedback.status == "wrong" and phrase in feedback.message


def test_readers() -> None:
    assert as_integer(3.0) == 3
    with pytest.raises(Wrong, match="whole number"):
        as_integer(2.5)
    t = as_array([[1, 2], [3, 4]], shape=(2, 2))
    assert t.dtype == torch.float64 and t.shape == (2, 2)
    with pytest.raises(Wrong, match=r"shape \(3,\)"):
        as_array([1, 2], shape=(3,))
    with pytest.raises(Wrong, match="NaN"):
        as_array([1.0, float("inf")])
    with pytest.raises(Wrong, match="array of numbers, got str"):
        as_array("12")
    with pytest.raises(Wrong, match="must be a function"):
        as_function(3)
    assert as_function(len) is len


def test_reader_code_errors_become_feedback() -> None:
    @exercise_check("ex-test-call")
    def _check_call(answer):
        if call(as_function(answer), 1.0) != 2.0:
            raise Wrong("your function does not double 1")

    assert _check_call(lambda x: 2 * x)
    raised = _check_call(lambda x: 1 / 0)
    assert raised.status == "wrong" and "ZeroDivisionError" in raised.message
    assert "does not double" in _check_call(lambda x: x).message


def test_unforeseen_answers_never_raise() -> None:
    @exercise_check("ex-test-index")
    def _check_index(answer):
        if answer[0] != 1:  # a body that forgot to validate
            raise Wrong("first entry")

    feedback = _check_index(5)
    assert feedback.status == "wrong" and "could not read your answer" in feedback.message


def test_registry_and_label() -> None:
    assert registered_checks()["_check_two"] == "ex-test-two"
    with pytest.raises(ValueError, match=r"^label"):
        exercise_check("not-an-exercise")
    assert isinstance(_check_two(2), Feedback)
