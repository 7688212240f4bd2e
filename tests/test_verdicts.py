"""Verdict tables: claims that miss and controls that pass raise; the table reads right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptheory.verdicts import CheckFailed, Verdicts


def test_claim_that_holds_and_control_that_is_rejected() -> None:
    v = Verdicts("segment lemma")
    v.claim("identity error", 3e-15, below=1e-10, floor=1e-12)
    v.control("wrong weight", 0.31, below=1e-10)
    assert v.passed and len(v) == 2
    assert [r.verdict for r in v.rows] == ["holds", "rejected"]
    assert v.rows[0].measured == "< 1e-12"  # noise shown as its floor, not its digits
    assert v.rows[1].measured == "0.31"
    text = str(v)
    assert "control: wrong weight" in text and "holds" in text and "rejected" in text


def test_failing_claim_raises_and_names_it() -> None:
    v = Verdicts("t")
    with pytest.raises(CheckFailed, match=r"claim fails.*identity error.*needs < 1e-10"):
        v.claim("identity error", 1e-3, below=1e-10)


def test_control_that_passes_raises() -> None:
    v = Verdicts("t")
    with pytest.raises(CheckFailed, match=r"control accepted.*constant prompt"):
        v.control("constant prompt", 1e-12, below=1e-10)


@pytest.mark.parametrize(
    ("kw", "value", "met"),
    [
        ({"below": 1.0}, 1.0, False),
        ({"at_most": 1.0}, 1.0, True),
        ({"above": 0.5}, 0.5, False),
        ({"at_least": 0.5}, 0.5, True),
        ({"within": (0.0, 1.0)}, 1.0, True),
        ({"within": (0.0, 1.0)}, 1.5, False),
        ({"equals": 3}, 3, True),
        ({"equals": 3}, 4, False),
    ],
)
def test_every_threshold_compares_as_named(kw: dict, value: float, met: bool) -> None:
    v = Verdicts()
    if met:
        v.claim("x", value, **kw)
        assert v.rows[0].met
    else:
        with pytest.raises(CheckFailed):
            v.claim("x", value, **kw)
        v.control("x", value, **kw)  # the same value is a rejected control
        assert v.rows[-1].verdict == "rejected"


def test_yes_no_measurements() -> None:
    v = Verdicts()
    v.claim("fits", True, expect=True)
    v.control("reverse order", False, expect=True)
    assert [r.measured for r in v.rows] == ["yes", "no"]
    with pytest.raises(CheckFailed):
        v.claim("fits", False, expect=True)


def test_tensor_and_numpy_scalars_are_read() -> None:
    v = Verdicts()
    v.claim("t", torch.tensor(0.25), below=1)
    v.claim("n", np.float64(0.25), below=1)
    v.claim("b", torch.tensor(True), expect=True)
    assert [r.measured for r in v.rows] == ["0.25", "0.25", "yes"]


def test_formatting_is_short_and_machine_independent() -> None:
    v = Verdicts()
    v.claim("a", 1234567.0, above=0)
    v.claim("b", 8.850253863101898e-12, below=1e-10, floor=1e-10)
    v.claim("c", 9.553469126899472e-12, below=1e-10, floor=1e-10)
    v.claim("d", 0.000123456, above=0, unit="s")
    v.claim("e", math.inf, above=1)
    shown = [r.measured for r in v.rows]
    assert shown[0] == "1.23e6"
    assert shown[1] == shown[2] == "< 1e-10"
    assert shown[3] == "0.000123 s"
    assert shown[4] == "∞"


def test_html_and_markdown_tables() -> None:
    v = Verdicts("a <title>")
    v.claim("x | y", 0.5, below=1)
    v.control("wrong", 2.0, below=1)
    html = v._repr_html_()
    assert "&lt;title&gt;" in html and html.count("<tr") == 3
    assert "ptheory-verdict-control" in html
    md = v._repr_markdown_()
    assert "x \\| y" in md and md.count("\n|") == 4


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda v: v.claim("x", 1.0), ValueError),
        (lambda v: v.claim("x", 1.0, below=2, above=0), ValueError),
        (lambda v: v.claim("", 1.0, below=2), TypeError),
        (lambda v: v.claim("x", "1.0", below=2), TypeError),
        (lambda v: v.claim("x", float("nan"), below=2), ValueError),
        (lambda v: v.claim("x", 1.0, within=(2, 1)), ValueError),
        (lambda v: v.claim("x", 1.0, expect=True), TypeError),
        (lambda v: v.claim("x", True, below=2), TypeError),
        (lambda v: v.claim("x", 1.0, below=2, floor=0), ValueError),
        (lambda v: v.claim("x", 1.0, below=2, digits=0), ValueError),
    ],
)
def test_bad_input_is_refused_with_a_named_error(call, error) -> None:
    with pytest.raises(error):
        call(Verdicts())


def test_title_must_be_text() -> None:
    with pytest.raises(TypeError, match="title"):
        Verdicts(3)  # type: ignore[arg-type]
