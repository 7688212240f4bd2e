"""Exercises of the Universality part (prompt_as_index, contextual_mapping, universality):
reference answers and other correct forms pass, typical mistakes (made-up values, round
guesses, the bound, a nudged duplicate) fail with a message that says what is wrong and
never the answer; the quick check alone (a student's copy, no grader) catches what it can
and says "checked" for a right answer; ``ptheory`` holds no reference answer."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch

import ptheory as pt
import ptheory.universality as U
from ptheory import exercises as ex
from ptheory.exercises import _core
from ptheory.exercises import universality as exu

from exercisetools import fails, passes


@pytest.fixture
def no_grader(monkeypatch):
    """A student's copy of ptheory: the instructor's package is not installed."""
    monkeypatch.setattr(_core, "_grader", lambda: None)


def check(label, answer):
    return ex.check(label, answer)


def test_no_reference_answers_in_ptheory():
    names = set(dir(exu))
    for leak in (
        "_largest_index_level",
        "_SAW_EXACT",
        "_eta_errors",
        "_rank_separations",
        "_flat_front",
        "_own_model",
        "check_prompt_as_index_2",
    ):
        assert leak not in names, leak
    source = open(exu.__file__).read()
    assert "0.503" not in source and "0.443" not in source and "sqrt(1 / 12" not in source


# ------------------------------------------------------------------ ex-index-code
def _largest_level():
    v = 2
    while U.log10_class_size(1, 2, 1 / (v + 1)) < 100:
        v += 1
    return v


def test_index_code_reference_and_other_forms():
    v = _largest_level()
    passes(check("ex-index-code", v))
    passes(check("ex-index-code", float(v)))
    passes(check("ex-index-code", np.int64(v)))
    by_hand = max(n for n in range(2, 50) if 2 * n * n * math.log10(n) < 100)
    passes(check("ex-index-code", torch.tensor(by_hand)))


def test_index_code_wrong_answers():
    v = _largest_level()
    fails(check("ex-index-code", v + 1), "too large")
    fails(check("ex-index-code", v - 1), "too small", hidden=(v,))
    fails(check("ex-index-code", 2), "too small", hidden=(v,))  # the d = L = 2 answer
    fails(check("ex-index-code", 10), "too large", hidden=(v,))  # a round guess
    fails(check("ex-index-code", 1 / v), "not delta", hidden=(v,))
    fails(check("ex-index-code", 1), "at least 2")
    fails(check("ex-index-code", v + 0.5), "whole number")
    fails(check("ex-index-code", "seven"), "must be a number")


def test_index_code_quick_check_alone(no_grader):
    v = _largest_level()
    assert check("ex-index-code", v).status == "checked"
    assert check("ex-index-code", v + 1).status == "checked"  # needs the answer to reject
    fails(check("ex-index-code", 1 / v), "not delta")
    fails(check("ex-index-code", 1), "at least 2")


# ------------------------------------------------------------------ ex-index-break
EXACT_BREAK = math.sqrt(1 / 12 + (3 / 8) ** 2)


@functools.cache
def _break_setup():
    model = U.construct(1, 1, 1 / 4)
    wave = U.triangle_wave(8.0)
    return model, model.tuned(model.prompt_for(wave)), wave


def test_index_break_reference_and_other_forms():
    _, tuned, wave = _break_setup()
    estimate = pt.dp_distance(tuned, wave, 1, 1)
    passes(check("ex-index-break", (estimate, EXACT_BREAK)))
    passes(check("ex-index-break", [estimate.value, torch.tensor(EXACT_BREAK)]))
    passes(check("ex-index-break", np.array([estimate.value, 0.4732423621])))  # 10 digits


def test_index_break_wrong_answers():
    _, tuned, wave = _break_setup()
    estimate = pt.dp_distance(tuned, wave, 1, 1)
    hidden = (EXACT_BREAK,)
    fails(check("ex-index-break", (0.47, EXACT_BREAK)), "too small", hidden=hidden)  # a guess
    fails(check("ex-index-break", (0.5, 0.5)), "too large", hidden=hidden)
    other = pt.dp_distance(tuned, wave, 1, 1, seed=3)  # not the default sample
    fails(check("ex-index-break", (other, EXACT_BREAK)), "default sample", hidden=hidden)
    d1 = pt.dp_distance(tuned, wave, 1, 1, p=1)
    fails(check("ex-index-break", (d1, EXACT_BREAK)), "too small", hidden=hidden)
    bar = U.quantized_target(wave, 1, 1, 1 / 4)
    to_bar = pt.dp_distance(tuned, bar, 1, 1)
    fails(check("ex-index-break", (to_bar, EXACT_BREAK)), "quantized target", hidden=hidden)
    fails(check("ex-index-break", (EXACT_BREAK, EXACT_BREAK)), "exact distance", hidden=hidden)
    fails(check("ex-index-break", (estimate, 0.47)), "too small", hidden=hidden)  # rounded
    fails(check("ex-index-break", (estimate, 1 / math.sqrt(12))), "mean 1/2", hidden=hidden)
    fails(check("ex-index-break", (estimate, EXACT_BREAK**2)), "square root", hidden=hidden)
    fails(check("ex-index-break", (estimate, -0.4)), "negative")
    fails(check("ex-index-break", (estimate, 1.5)), "larger than 1")
    fails(check("ex-index-break", estimate), "pair")


def test_index_break_quick_check_alone(no_grader):
    _, tuned, wave = _break_setup()
    estimate = pt.dp_distance(tuned, wave, 1, 1)
    assert check("ex-index-break", (estimate, EXACT_BREAK)).status == "checked"
    assert check("ex-index-break", (0.5, 0.5)).status == "checked"
    bar = U.quantized_target(wave, 1, 1, 1 / 4)
    fails(check("ex-index-break", (pt.dp_distance(tuned, bar, 1, 1), 0.5)), "quantized target")


# ------------------------------------------------------------------ ex-cm-collision
def _prompt(*upper):
    P = torch.full((1, 8), 0.25, dtype=torch.float64)
    P[0, list(upper)] = 0.75
    return P


def test_collision_reference_and_other_forms():
    grid_prompts = U.all_prompts(1, 2, 0.5)
    one_up = grid_prompts[(grid_prompts > 0.5).sum(dim=(1, 2)) == 1]
    passes(check("ex-cm-collision", one_up[:2]))  # the chapter's solution
    passes(check("ex-cm-collision", torch.stack([_prompt(0, 3), _prompt(5, 7)]).tolist()))
    passes(check("ex-cm-collision", np.stack([_prompt(0, 1, 2, 3), _prompt(4, 5, 6, 7)])))
    passes(check("ex-cm-collision", torch.stack([_prompt(*range(7)), _prompt(*range(1, 8))])))


def test_collision_agrees_with_the_model_at_scale_zero():
    """The grader's integer arithmetic says what the averaging head computes."""
    front = U.front_model(U.dimensions(1, 2, 0.5, beta=0.0))
    grid = U.grid_sequences(1, 2, 0.5)
    for pair, collide in (((_prompt(0), _prompt(5)), True), ((_prompt(), _prompt(7)), False)):
        codes = U.contextual_codes(front, torch.stack(pair), grid)[..., 0]
        assert bool(torch.allclose(codes[0], codes[1], rtol=0, atol=1e-9)) is collide
        assert check("ex-cm-collision", torch.stack(pair)).passed is collide


def test_collision_wrong_answers():
    fails(check("ex-cm-collision", torch.stack([_prompt(0), _prompt(0, 1)])), "do not collide")
    fails(check("ex-cm-collision", torch.stack([_prompt(), _prompt(7)])), "do not collide")
    fails(check("ex-cm-collision", torch.stack([_prompt(2), _prompt(2)])), "same grid prompt")
    nudged = torch.stack([_prompt(2), _prompt(2) + 1e-10])  # one copy moved by 1e-10
    fails(check("ex-cm-collision", nudged), "same grid prompt")
    shifted = torch.stack([_prompt(0), _prompt(1)]) - 0.25
    fails(check("ex-cm-collision", shifted), "cell centre")
    fails(check("ex-cm-collision", torch.stack([_prompt(0), _prompt(1)])[:, :, :4]), "shape")
    fails(check("ex-cm-collision", _prompt(0)), "shape")
    fails(check("ex-cm-collision", "two prompts"), "array of numbers")


def test_collision_quick_check_alone(no_grader):
    assert check("ex-cm-collision", torch.stack([_prompt(0), _prompt(5)])).status == "checked"
    nudged = torch.stack([_prompt(2), _prompt(2) + 1e-10])
    fails(check("ex-cm-collision", nudged), "same grid prompt")
    fails(check("ex-cm-collision", torch.stack([_prompt(0), _prompt(1)]) + 0.1), "cell centre")


# ------------------------------------------------------------------ ex-cm-rank
@functools.cache
def _separations():
    beta = U.default_beta(2, 1, 0.5)
    return (
        U.contextual_separation(2, 1, 0.5, beta, rank="full"),
        U.contextual_separation(2, 1, 0.5, beta),
    )


def test_rank_reference_and_other_forms():
    full, one = _separations()
    passes(check("ex-cm-rank", (full.relative, one.relative)))
    passes(check("ex-cm-rank", [full.relative, one.relative]))
    passes(check("ex-cm-rank", np.array([full.relative, one.relative])))
    passes(check("ex-cm-rank", (full.min_gap / full.code_range, one.min_gap / one.code_range)))


def test_rank_wrong_answers():
    full, one = _separations()
    hidden = (full.relative, one.relative)
    fails(check("ex-cm-rank", (one.relative, full.relative)), "swapped", hidden=hidden)
    fails(check("ex-cm-rank", (full.min_gap, one.min_gap)), "absolute gap", hidden=hidden)
    fails(check("ex-cm-rank", (full.relative, full.relative)), "rank one", hidden=(one.relative,))
    beta = U.default_beta(2, 1, 0.5)
    other = U.contextual_separation(2, 1, 0.5, 0.1 * beta)  # at another scale
    fails(check("ex-cm-rank", (full.relative, other.relative)), "rank one", hidden=hidden)
    fails(check("ex-cm-rank", (1e-6, 1e-6)), "separation", hidden=hidden)  # a round guess
    fails(check("ex-cm-rank", (0.0, one.relative)), "strictly between", hidden=hidden)
    fails(check("ex-cm-rank", full.relative), "pair")
    fails(check("ex-cm-rank", (full, one)), "must be a number")


def test_rank_quick_check_alone(no_grader):
    full, one = _separations()
    assert check("ex-cm-rank", (full.relative, one.relative)).status == "checked"
    assert check("ex-cm-rank", (one.relative, full.relative)).status == "checked"
    fails(check("ex-cm-rank", (0.0, one.relative)), "strictly between")
    fails(check("ex-cm-rank", (3.0, one.relative)), "strictly between")


# ------------------------------------------------------------------ ex-univ-own
def f_own(X):  # the chapter's solution
    return 0.5 + 0.5 * torch.tanh(2 * (X.flip(-2) - 0.5))


def test_own_target_reference_and_other_forms():
    passes(check("ex-univ-own", f_own))
    passes(check("ex-univ-own", lambda X: X.flip(-2)))  # an isometry
    passes(check("ex-univ-own", pt.mean_pool_target(2, 1, lipschitz=2.0)))
    passes(check("ex-univ-own", lambda X: 0.5 + 0.5 * torch.tanh(4 * (X - 0.5))))  # C = 2
    passes(check("ex-univ-own", lambda X: (2 * X - 0.5).clamp(0, 1)))  # C = 2, attained
    passes(check("ex-univ-own", lambda X: X.clamp(0.2, 0.7).numpy()))  # NumPy output


def _steep_step(X):  # 1000-Lipschitz: a ramp of height 1e-4 and width 1e-7 at x_1 = 0.3
    base = 0.5 + 0.25 * torch.tanh(X.flip(-2) - 0.5)
    return (base + torch.clamp(1000 * (X[:, :1, :] - 0.3), 0, 1e-4)).clamp(0, 1)


def _spike(X):  # discontinuous: a step of 0.2 on bands 2e-6 wide, invisible to gradients
    return 0.5 + 0.1 * X + 0.2 * ((X - 0.8765).abs() < 1e-6).double()


def test_own_target_wrong_answers():
    steep = lambda X: 0.5 + 0.5 * torch.tanh(8 * (X - 0.5))  # noqa: E731
    fails(check("ex-univ-own", steep), "not 2-Lipschitz")
    fails(check("ex-univ-own", U.triangle_wave(8.0)), "not 2-Lipschitz")
    fails(check("ex-univ-own", lambda X: torch.remainder(8 * X, 1.0)), "not 2-Lipschitz")
    band = lambda X: (0.5 + 0.5 * torch.tanh(50 * (X - 0.5))).clamp(0, 1)  # noqa: E731
    fails(check("ex-univ-own", band), "not 2-Lipschitz")
    # what random pairs of points miss: a tiny steep step, a narrow spike, a cusp, a
    # slope a little above 2, a steep ring that no search line follows
    fails(check("ex-univ-own", _steep_step), "not 2-Lipschitz")
    fails(check("ex-univ-own", _spike), "not 2-Lipschitz")
    fails(check("ex-univ-own", lambda X: X.sqrt()), "not 2-Lipschitz")
    fails(check("ex-univ-own", lambda X: (2.05 * X - 0.5).clamp(0, 1)), "not 2-Lipschitz")

    def ring(X):
        r2 = (X[:, :1] - 0.3) ** 2 + (X[:, 1:] - 0.6) ** 2
        return (0.5 + 0.5 * torch.tanh(100 * (r2 - 0.01))).expand(-1, 2, -1)

    fails(check("ex-univ-own", ring), "not 2-Lipschitz")
    fails(check("ex-univ-own", lambda X: 2 * X.flip(-2)), "values in [0, 1]")
    fails(check("ex-univ-own", lambda X: X[..., 0]), "same shape")
    fails(check("ex-univ-own", lambda X: X.transpose(-1, -2)), "same shape")
    fails(check("ex-univ-own", lambda X: 0 * X + 0.3), "constant")
    fails(check("ex-univ-own", lambda X, Y: X), "raised TypeError")
    fails(check("ex-univ-own", torch.zeros(2, 1)), "must be a function")


def test_own_target_quick_check_alone(no_grader):
    assert check("ex-univ-own", f_own).status == "checked"
    fails(check("ex-univ-own", U.triangle_wave(8.0)), "not 2-Lipschitz")
    fails(check("ex-univ-own", _steep_step), "not 2-Lipschitz")
    fails(check("ex-univ-own", _spike), "not 2-Lipschitz")
    fails(check("ex-univ-own", lambda X: 0 * X + 0.3), "constant")


def test_own_target_grader_recomputes_the_search_quotients():
    """The grader judges the pairs the probe recorded, recomputing their quotients: a
    probe whose steepest pair is a 3-Lipschitz step is rejected, the same probe with that
    pair made 2-Lipschitz is not."""
    from ptheory_grading._core import grade

    payload = ex.probe("ex-univ-own", f_own)
    assert grade("ex-univ-own", payload).fraction == 1.0
    search = payload["answer"]["search"]
    a, b = search["a"][0], [search["a"][0][0] + 1e-3, search["a"][0][1]]
    for slope, ok in ((3.0, False), (2.0, True)):
        fa = search["fa"][0]
        fb = [fa[0] + slope * 1e-3, fa[1]]
        bad = {**search, "b": [b, *search["b"][1:]], "fb": [fb, *search["fb"][1:]]}
        bad["a"] = [a, *search["a"][1:]]
        result = grade("ex-univ-own", {**payload, "answer": {**payload["answer"], "search": bad}})
        assert (result.fraction == 1.0) == ok, result.message
        if not ok:
            assert "not 2-Lipschitz" in result.message


def test_own_target_search_finds_what_the_exercise_forbids():
    """The search reaches the constant it is looking for: the steep step's slope (to its
    width) and a smooth target's largest slope, not merely 'above 2'."""
    assert exu.own_lipschitz(exu.worst_pairs(_steep_step)) > 500
    assert abs(exu.own_lipschitz(exu.worst_pairs(U.triangle_wave(3.0))) - 3.0) < 1e-6
    smooth = lambda X: 0.5 + 0.5 * torch.tanh(3 * (X - 0.5))  # noqa: E731
    assert abs(exu.own_lipschitz(exu.worst_pairs(smooth)) - 1.5) < 1e-3  # slope 3/2 at 1/2


def test_own_target_grader_runs_the_sharp_check(monkeypatch):
    """The sharp check inside the grader can fail: with a model whose weights tabulate
    another layout, a valid target is rejected."""
    from ptheory_grading import universality as gu

    real = gu._own_model()
    monkeypatch.setattr(gu, "_prompt", lambda table, d: real.prompt_for(lambda X: X.flip(-2)))
    fails(check("ex-univ-own", lambda X: 0.5 + 0.25 * torch.tanh(X - 0.5)), "differs")


# ------------------------------------------------------------------ ex-univ-eta
@functools.cache
def _eta_estimates(n_samples=4096, seed=0):
    f = pt.random_relu_target(1, 1, seed=0)
    out = []
    for eta in (1e-7, 0.05):
        model = U.construct(1, 1, 1 / 4, eta=eta)
        tuned = model.tuned(model.prompt_for(f))
        out.append(pt.dp_distance(tuned, f, 1, 1, n_samples=n_samples, seed=seed))
    return tuple(out)


def test_eta_reference_and_other_forms():
    default, wide = _eta_estimates()
    passes(check("ex-univ-eta", (default, wide)))
    passes(check("ex-univ-eta", [default.value, wide.value]))
    passes(check("ex-univ-eta", np.array([default.value, wide.value])))


def test_eta_wrong_answers():
    default, wide = _eta_estimates()
    hidden = (default.value, wide.value)
    fails(check("ex-univ-eta", (wide, default)), "swapped", hidden=hidden)
    fails(check("ex-univ-eta", (default, default)), "eta=0.05", hidden=hidden)
    fails(check("ex-univ-eta", (default.value, 0.5)), "too large", hidden=hidden)
    mu_term = math.sqrt(3 * 0.05)  # the bound's ramp term instead of a measured error
    fails(check("ex-univ-eta", (default.value, mu_term)), "too large", hidden=hidden)
    other = _eta_estimates(1024, 5)  # not the default sample
    fails(check("ex-univ-eta", other), "default sample", hidden=hidden)
    rounded = (round(default.value, 2), round(wide.value, 2))  # a good guess, rounded
    fails(check("ex-univ-eta", rounded), "default sample")  # (shows the reader's number)
    fails(check("ex-univ-eta", wide.value), "pair")
    fails(check("ex-univ-eta", (1, 2, 3)), "two numbers")


def test_eta_quick_check_alone(no_grader):
    default, wide = _eta_estimates()
    assert check("ex-univ-eta", (default, wide)).status == "checked"
    fails(check("ex-univ-eta", (default, default)), "eta=0.05")
    fails(check("ex-univ-eta", (default.value, 1.5)), "[0, 1]")


def test_probes_are_plain_data():
    for label, answer in (
        ("ex-index-code", 7),
        ("ex-cm-collision", torch.stack([_prompt(0), _prompt(5)])),
        ("ex-univ-own", f_own),
        ("ex-univ-eta", (0.1, 0.2)),
    ):
        payload = ex.probe(label, answer)
        assert set(payload) == {"label", "answer"}, payload
        assert json.loads(json.dumps(payload)) == payload
    assert ex.probe("ex-cm-rank", ...) == {"label": "ex-cm-rank", "error": "no answer"}
