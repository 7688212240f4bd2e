"""The exercise framework: feedback, answer readers, and how an exercise is registered."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import ptheory.exercises as ex
from ptheory.exercises import Feedback
from ptheory.exercises import _core as core
from ptheory.exercises._core import (
    Wrong,
    as_array,
    as_function,
    as_integer,
    as_number,
    call,
    expect_close,
)


def _grade_two(label, payload):
    """A stand-in for the instructor's grader of ``ex-test-two`` (the answer is 2)."""
    if "error" in payload:
        return SimpleNamespace(fraction=0.0, message=payload["error"])
    try:
        expect_close(payload["answer"], 2.0, rtol=1e-3)
    except Wrong as wrong:
        return SimpleNamespace(fraction=0.0, message=str(wrong))
    return SimpleNamespace(fraction=1.0, message="correct")


@pytest.fixture
def two(monkeypatch):
    """Exercise ``ex-test-two`` registered for one test (the registry is left as found),
    graded by :func:`_grade_two`."""
    monkeypatch.setattr(core, "_EXERCISES", dict(core._EXERCISES))

    def probe(answer):
        return as_number(answer)

    @core.exercise("ex-test-two", chapter="test_chapter", probe=probe)
    def _quick(answer):
        as_number(answer)

    monkeypatch.setattr(core, "_grader", lambda: _grade_two)
    return lambda answer: ex.check("ex-test-two", answer)


def test_feedback_states(two, monkeypatch) -> None:
    assert two(...).status == "missing"
    assert two(None).status == "missing"
    good = two(2.0005)
    assert good and good.passed and good.status == "correct"
    bad = two(3)
    assert not bad and bad.status == "wrong"
    assert "too large" in bad.message
    assert "ex-test-two" in str(bad) and "ex-test-two" in bad._repr_html_()
    assert isinstance(good, Feedback)
    # without the instructor's package: the quick check only, never "correct"
    monkeypatch.setattr(core, "_grader", lambda: None)
    assert two(2.0).status == "checked" and two(3).status == "checked"
    assert two("2").status == "wrong"


def test_wrong_messages_never_show_the_target(two) -> None:
    for value in (1.0, 3.0, 2.5, -7.0):
        message = two(value).message
        assert "2.0" not in message and " 2 " not in message
        assert ("too large" in message) == (value > 2)


def test_accepts_every_numeric_form(two) -> None:
    for form in (2, 2.0, np.float32(2.0), np.array(2.0), torch.tensor([2.0]), [2.0][0]):
        assert two(form), form


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
def test_bad_forms_are_named(two, answer, phrase) -> None:
    feedback = two(answer)
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


def _register(monkeypatch, label, quick):
    monkeypatch.setattr(core, "_EXERCISES", dict(core._EXERCISES))
    monkeypatch.setattr(core, "_grader", lambda: None)
    core.exercise(label, chapter="test_chapter", probe=lambda a: None)(quick)


def test_reader_code_errors_become_feedback(monkeypatch) -> None:
    def quick(answer):
        if call(as_function(answer), 1.0) != 2.0:
            raise Wrong("your function does not double 1")

    _register(monkeypatch, "ex-test-call", quick)
    assert ex.check("ex-test-call", lambda x: 2 * x).status == "checked"
    raised = ex.check("ex-test-call", lambda x: 1 / 0)
    assert raised.status == "wrong" and "ZeroDivisionError" in raised.message
    assert "does not double" in ex.check("ex-test-call", lambda x: x).message


def test_unforeseen_answers_never_raise(monkeypatch) -> None:
    def quick(answer):
        if answer[0] != 1:  # a quick check that forgot to validate
            raise Wrong("first entry")

    _register(monkeypatch, "ex-test-index", quick)
    feedback = ex.check("ex-test-index", 5)
    assert feedback.status == "wrong" and "could not read your answer" in feedback.message


def test_labels_are_checked(two) -> None:
    with pytest.raises(ValueError, match=r"^label"):
        core.exercise("not-an-exercise", chapter="x", probe=lambda a: a)
    with pytest.raises(ValueError, match=r"^label 'ex-test-three'"):
        ex.check("ex-test-three", 2)
    with pytest.raises(TypeError, match=r"^label"):
        ex.check(3, 2)
    assert ex.probe("ex-test-two", 2.5) == {"label": "ex-test-two", "answer": 2.5}
    assert ex.probe("ex-test-two", ...) == {"label": "ex-test-two", "error": "no answer"}
