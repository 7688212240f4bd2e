"""What a course's hidden test cell records (ptheory.exercises.handin): the probe of the
answer as one output of its own MIME type, never a verdict, never the reference."""

from __future__ import annotations

import json

import pytest
import torch

from ptheory.exercises import handin, probe


def repeated_weight(weight, k):
    odds = weight / (1 - weight)
    return k * odds / (1 + k * odds)


def test_bundle_is_the_probe_and_plain_json() -> None:
    bundle = handin.answer_bundle("ex-model-repeat", repeated_weight)
    assert set(bundle) == {handin.ANSWER_MIME, "text/plain"}
    assert bundle[handin.ANSWER_MIME] == probe("ex-model-repeat", repeated_weight)
    assert json.loads(json.dumps(bundle)) == bundle
    assert "recorded" in bundle["text/plain"]
    # it records, it does not judge: a wrong answer is recorded the same way
    wrong = handin.answer_bundle("ex-model-repeat", lambda w, k: w)
    assert wrong["text/plain"] == bundle["text/plain"]
    assert wrong[handin.ANSWER_MIME] != bundle[handin.ANSWER_MIME]


def test_missing_and_unreadable_answers_are_recorded_as_such() -> None:
    stub = handin.answer_bundle("ex-model-repeat", ...)
    assert stub[handin.ANSWER_MIME] == {"label": "ex-model-repeat", "error": "no answer"}
    assert "no answer recorded" in stub["text/plain"]
    broken = handin.answer_bundle("ex-model-break", lambda layer, x, Z: 1 / 0)
    assert "ZeroDivisionError" in broken[handin.ANSWER_MIME]["error"]


def test_submit_displays_one_raw_bundle(monkeypatch) -> None:
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    assert handin.submit("ex-model-break", lambda layer, x, Z: torch.zeros(1)) is None
    ((args, kwargs),) = shown
    assert kwargs == {"raw": True} and handin.ANSWER_MIME in args[0]
    with pytest.raises(ValueError, match="names no exercise"):
        handin.submit("ex-no-such-exercise", 1)


def test_sandbox_says_why_it_cannot_run(monkeypatch) -> None:
    """The sandbox's availability probe names the cause: no bubblewrap, or one that fails."""
    from ptheory_grading import sandbox

    monkeypatch.setenv("PTHEORY_BWRAP", "/nonexistent/bwrap")
    assert "cannot run" in sandbox.unavailable_reason()
    monkeypatch.setenv("PTHEORY_BWRAP", "/bin/false")
    assert "cannot make namespaces" in sandbox.unavailable_reason()
    monkeypatch.delenv("PTHEORY_BWRAP")
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert "not installed" in sandbox.unavailable_reason()
