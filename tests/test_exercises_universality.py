"""Checks of the Universality part's exercises (prompt_as_index, contextual_mapping,
universality): reference answers pass, other correct forms pass, typical mistakes fail
with a message that says what is wrong and never the answer."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

import ptheory as pt
import ptheory.universality as U
from ptheory import exercises as ex

from exercisetools import fails, passes


# ------------------------------------------------------------------ ex-index-code
def _largest_level():
    v = 2
    while U.log10_class_size(1, 2, 1 / (v + 1)) < 100:
        v += 1
    return v


def test_index_count_reference_and_other_forms():
    v = _largest_level()
    assert U.log10_class_size(1, 2, 1 / v) < 100 <= U.log10_class_size(1, 2, 1 / (v + 1))
    passes(ex.check_prompt_as_index_2(v))
    passes(ex.check_prompt_as_index_2(float(v)))
    passes(ex.check_prompt_as_index_2(np.int64(v)))
    # counted by hand: V1^(2 V1^2) targets, 2 V1^2 log10 V1 digits
    by_hand = max(n for n in range(2, 50) if 2 * n * n * math.log10(n) < 100)
    passes(ex.check_prompt_as_index_2(torch.tensor(by_hand)))


def test_index_count_wrong_answers():
    v = _largest_level()
    fails(ex.check_prompt_as_index_2(v + 1), "too large")
    fails(ex.check_prompt_as_index_2(v - 1), "too small", hidden=(v,))
    fails(ex.check_prompt_as_index_2(2), "too small", hidden=(v,))  # the d = L = 2 answer
    fails(ex.check_prompt_as_index_2(1 / v), "not delta", hidden=(v,))
    fails(ex.check_prompt_as_index_2(1), "at least 2")
    fails(ex.check_prompt_as_index_2(v + 0.5), "whole number")
    fails(ex.check_prompt_as_index_2("seven"), "must be a number")


# ------------------------------------------------------------------ ex-index-break
@functools.cache
def _sawtooth_setup():
    model = U.construct(1, 1, 1 / 4)
    return model, model.prompt_for(saw)


def saw(X):  # the triangle wave of slope 8 (the name is kept from an earlier sawtooth)
    return U.triangle_wave(8.0)(X)


def test_sawtooth_reference_and_other_forms():
    model, P = _sawtooth_setup()
    estimate = pt.dp_distance(model.tuned(P), saw, 1, 1)
    passes(ex.check_prompt_as_index_3(estimate))
    passes(ex.check_prompt_as_index_3(estimate.value))
    for seed, n in ((3, 1024), (7, 2048)):  # other seeds and sample sizes
        other = pt.dp_distance(model.tuned(P), saw, 1, 1, n_samples=n, seed=seed)
        passes(ex.check_prompt_as_index_3(torch.tensor(other.value)))
    passes(ex.check_prompt_as_index_3(math.sqrt(1 / 12 + (3 / 8) ** 2)))  # by hand


def test_sawtooth_wrong_answers():
    exact = math.sqrt(1 / 12 + (3 / 8) ** 2)
    model, P = _sawtooth_setup()
    quantized = U.quantized_target(saw, 1, 1, 1 / 4)
    to_bar = pt.dp_distance(model.tuned(P), quantized, 1, 1).value
    fails(ex.check_prompt_as_index_3(to_bar), "quantized target", hidden=(exact,))
    p1 = pt.dp_distance(model.tuned(P), saw, 1, 1, p=1).value  # the d_1 distance
    fails(ex.check_prompt_as_index_3(p1), "too small", hidden=(exact,))
    fails(ex.check_prompt_as_index_3(1 / math.sqrt(12)), "too small", hidden=(exact,))
    fails(ex.check_prompt_as_index_3(exact**2), "too small", hidden=(exact,))  # squared
    fails(ex.check_prompt_as_index_3(-0.4), "negative")
    fails(ex.check_prompt_as_index_3(1.5), "larger than 1")
    fails(ex.check_prompt_as_index_3([0.4, 0.5]), "must be a number")


# ------------------------------------------------------------------ ex-cm-collision
def _prompt(*upper):
    P = torch.full((1, 8), 0.25, dtype=torch.float64)
    P[0, list(upper)] = 0.75
    return P


def test_collision_reference_and_other_forms():
    grid_prompts = U.all_prompts(1, 2, 0.5)
    one_up = grid_prompts[(grid_prompts > 0.5).sum(dim=(1, 2)) == 1]
    passes(ex.check_contextual_mapping_1(one_up[:2]))  # the chapter's solution
    # any two prompts with as many upper tokens collide: a list, NumPy, other counts
    passes(ex.check_contextual_mapping_1(torch.stack([_prompt(0, 3), _prompt(5, 7)]).tolist()))
    passes(ex.check_contextual_mapping_1(np.stack([_prompt(0, 1, 2, 3), _prompt(4, 5, 6, 7)])))
    passes(ex.check_contextual_mapping_1(torch.stack([_prompt(*range(7)), _prompt(*range(1, 8))])))


def test_collision_wrong_answers():
    fails(ex.check_contextual_mapping_1(torch.stack([_prompt(0), _prompt(0, 1)])), "do not collide")
    fails(ex.check_contextual_mapping_1(torch.stack([_prompt(), _prompt(7)])), "do not collide")
    fails(ex.check_contextual_mapping_1(torch.stack([_prompt(2), _prompt(2)])), "the same prompt")
    fails(
        ex.check_contextual_mapping_1(torch.stack([_prompt(0), _prompt(1)]) - 0.25), "cell centre"
    )
    fails(ex.check_contextual_mapping_1(torch.stack([_prompt(0), _prompt(1)])[:, :, :4]), "shape")
    fails(ex.check_contextual_mapping_1(_prompt(0)), "shape")
    fails(ex.check_contextual_mapping_1("two prompts"), "array of numbers")


# ------------------------------------------------------------------ ex-cm-rank
@functools.cache
def _separations():
    lam = U.default_lam(2, 1, 0.5)
    return (
        U.contextual_separation(2, 1, 0.5, lam, rank="full"),
        U.contextual_separation(2, 1, 0.5, lam),
    )


def test_rank_reference_and_other_forms():
    full, one = _separations()
    passes(ex.check_contextual_mapping_2((full.relative, one.relative)))
    passes(ex.check_contextual_mapping_2([full.relative, one.relative]))
    passes(ex.check_contextual_mapping_2(np.array([full.relative, one.relative])))
    # recomputed as gap over range
    passes(
        ex.check_contextual_mapping_2(
            (full.min_gap / full.code_range, one.min_gap / one.code_range)
        )
    )


def test_rank_wrong_answers():
    full, one = _separations()
    hidden = (full.relative, one.relative)
    fails(ex.check_contextual_mapping_2((one.relative, full.relative)), "swapped", hidden=hidden)
    fails(ex.check_contextual_mapping_2((full.min_gap, one.min_gap)), "absolute gap", hidden=hidden)
    # the message shows the reader's own number only: here the full-rank one
    fails(
        ex.check_contextual_mapping_2((full.relative, full.relative)),
        "rank one",
        hidden=(one.relative,),
    )
    lam = U.default_lam(2, 1, 0.5)
    flat = U.contextual_separation(2, 1, 0.5, 0.1 * lam)  # at another scale
    fails(ex.check_contextual_mapping_2((full.relative, flat.relative)), "too small", hidden=hidden)
    fails(ex.check_contextual_mapping_2((0.0, one.relative)), "positive", hidden=hidden)
    fails(ex.check_contextual_mapping_2(full.relative), "pair")
    fails(ex.check_contextual_mapping_2((full, one)), "must be a number")


# ------------------------------------------------------------------ ex-univ-own
def f_own(X):  # the chapter's solution
    return 0.5 + 0.5 * torch.tanh(2 * (X.flip(-2) - 0.5))


def test_own_target_reference_and_other_forms():
    passes(ex.check_universality_2(f_own))
    passes(ex.check_universality_2(lambda X: X.flip(-2)))  # an isometry
    passes(ex.check_universality_2(pt.mean_pool_target(2, 1, lipschitz=2.0)))
    passes(ex.check_universality_2(lambda X: 0.5 + 0.5 * torch.tanh(4 * (X - 0.5))))  # C = 2
    passes(ex.check_universality_2(lambda X: X.clamp(0.2, 0.7).numpy()))  # NumPy output


def test_own_target_wrong_answers():
    fails(
        ex.check_universality_2(lambda X: 0.5 + 0.5 * torch.tanh(8 * (X - 0.5))), "not 2-Lipschitz"
    )
    fails(ex.check_universality_2(U.triangle_wave(8.0)), "not 2-Lipschitz")
    fails(ex.check_universality_2(lambda X: torch.remainder(8 * X, 1.0)), "not 2-Lipschitz")
    fails(ex.check_universality_2(lambda X: 2 * X.flip(-2)), "values in [0, 1]")
    fails(ex.check_universality_2(lambda X: X[..., 0]), "same shape")
    fails(ex.check_universality_2(lambda X: X.transpose(-1, -2)), "same shape")
    fails(ex.check_universality_2(lambda X: 0 * X + 0.3), "constant")
    fails(ex.check_universality_2(lambda X, Y: X), "raised TypeError")
    fails(ex.check_universality_2(torch.zeros(2, 1)), "must be a function")


# ------------------------------------------------------------------ ex-univ-eta
@functools.cache
def _eta_estimates(n_samples=4096, seed=0):
    f = pt.random_relu_target(1, 1, seed=0)
    out = []
    for eta in (1e-7, 0.05):
        model = U.construct(1, 1, 1 / 4, eta=eta)
        out.append(
            pt.dp_distance(
                model.tuned(model.prompt_for(f)), f, 1, 1, n_samples=n_samples, seed=seed
            )
        )
    return tuple(out)


def test_eta_reference_and_other_forms():
    default, wide = _eta_estimates()
    passes(ex.check_universality_3((default, wide)))
    passes(ex.check_universality_3([default.value, wide.value]))
    small = _eta_estimates(1024, 5)  # fewer samples, another seed
    passes(ex.check_universality_3(np.array([small[0].value, small[1].value])))


def test_eta_wrong_answers():
    default, wide = _eta_estimates()
    hidden = (default.value, wide.value)
    fails(ex.check_universality_3((wide, default)), "swapped", hidden=hidden)
    fails(ex.check_universality_3((default, default)), "eta=0.05", hidden=hidden)
    fails(ex.check_universality_3((default.value, 0.5)), "too large", hidden=hidden)
    # the bound's term instead of a measured error
    mu_term = math.sqrt(3 * 0.05)
    fails(ex.check_universality_3((default.value, mu_term)), "too large", hidden=hidden)
    fails(ex.check_universality_3((0.01, wide.value)), "too small", hidden=hidden)
    fails(ex.check_universality_3(wide.value), "pair")
    fails(ex.check_universality_3((1, 2, 3)), "two numbers")


def test_universality_check_rejects_a_model_that_misses_the_quantized_target(monkeypatch):
    """The sharp check inside ``check_universality_2`` can fail: with a model whose oracle
    returns another target's prompt, a valid target is rejected."""
    import dataclasses

    from ptheory.exercises import universality as exu

    real = exu._own_model()
    other = real.prompt_for(lambda X: X.flip(-2))

    @dataclasses.dataclass(frozen=True, eq=False, repr=False)
    class Liar(type(real)):
        def prompt_for(self, target):
            return other

    liar = Liar(**{f.name: getattr(real, f.name) for f in dataclasses.fields(real)})
    monkeypatch.setattr(exu, "_own_model", lambda: liar)
    fails(ex.check_universality_2(lambda X: 0.5 + 0.25 * torch.tanh(X - 0.5)), "differs")
