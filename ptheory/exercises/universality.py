"""Checks for the exercises of the chapters: prompt_as_index, contextual_mapping, universality.

- :func:`check_prompt_as_index_2` (``ex-index-code``): the largest ``1/delta`` with fewer
  than ``10^100`` quantized targets, recomputed from :func:`~ptheory.universality.grid`.
- :func:`check_prompt_as_index_3` (``ex-index-break``): the ``d_2`` error of the built
  model on the triangle wave of slope 8, against its exact value (Monte Carlo noise
  allowed).
- :func:`check_contextual_mapping_1` (``ex-cm-collision``): two grid prompts whose
  contextual codes coincide for every input at ``lambda = 0``, recomputed with the
  construction's code layer and an averaging head.
- :func:`check_contextual_mapping_2` (``ex-cm-rank``): the full-rank and rank-one
  separations, recomputed with :func:`~ptheory.universality.contextual_separation`.
- :func:`check_universality_2` (``ex-univ-own``): the reader's own 2-Lipschitz target:
  its shape, range and Lipschitz constant, and the sharp check (the tuned model equals the
  quantized target off the ramps) on it.
- :func:`check_universality_3` (``ex-univ-eta``): the errors with the default and a wide
  quantizer ramp, recomputed with a larger sample.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import torch

from ..distance import uniform_inputs
from ..targets import empirical_lipschitz, random_relu_target
from ..universality import (
    construct,
    contextual_codes,
    contextual_separation,
    default_lam,
    dimensions,
    front_model,
    grid_sequences,
    log10_class_size,
    off_ramp_agreement,
    quantized_target,
)
from ._core import (
    Wrong,
    as_array,
    as_function,
    as_integer,
    as_number,
    call,
    exercise_check,
    expect_close,
)

__all__ = [
    "check_contextual_mapping_1",
    "check_contextual_mapping_2",
    "check_prompt_as_index_2",
    "check_prompt_as_index_3",
    "check_universality_2",
    "check_universality_3",
]


def _number(answer: Any, what: str = "answer") -> float:
    """A number, or the ``value`` of a ``pt.dp_distance`` estimate."""
    if hasattr(answer, "value") and hasattr(answer, "stderr"):
        answer = answer.value
    return as_number(answer, what)


def _pair(answer: Any, names: tuple[str, str]) -> tuple[float, float]:
    if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__len__"):
        raise Wrong(f"answer must be a pair ({names[0]}, {names[1]}), got {type(answer).__name__}")
    if len(answer) != 2:
        raise Wrong(f"answer must hold two numbers ({names[0]}, {names[1]}), got {len(answer)}")
    return _number(answer[0], names[0]), _number(answer[1], names[1])


# ------------------------------------------------------------------ prompt_as_index
_INDEX_DL = (1, 2)
_INDEX_DIGITS = 100


@lru_cache(maxsize=1)
def _largest_index_level() -> int:
    v = 2
    while log10_class_size(*_INDEX_DL, 1 / (v + 1)) < _INDEX_DIGITS:
        v += 1
    return v


@exercise_check("ex-index-code")
def check_prompt_as_index_2(answer):
    """``answer``: the largest ``1/delta`` (an integer >= 2) for which ``d = 1, L = 2`` has
    fewer than ``10^100`` quantized targets."""
    value = as_number(answer)
    if 0 < value < 1:
        raise Wrong("answer must be 1/delta, a whole number of cells per entry, not delta")
    v = as_integer(answer)
    if v < 2:
        raise Wrong(f"answer = {v}: 1/delta must be at least 2 (two cells per entry)")
    if v != _largest_index_level():
        digits = log10_class_size(*_INDEX_DL, 1 / v)
        if digits >= _INDEX_DIGITS:
            raise Wrong(
                f"answer = {v} is too large: at 1/delta = {v} there are already "
                "10^100 quantized targets or more"
            )
        raise Wrong(f"answer = {v} is too small: a finer grid still has fewer than 10^100 targets")
    return None


_SAW_EXACT = math.sqrt(1 / 12 + (7 / 8 - 1 / 2) ** 2)  # the model outputs 7/8 everywhere


@exercise_check("ex-index-break")
def check_prompt_as_index_3(answer):
    """``answer``: the measured ``d_2`` distance (a number, or the estimate returned by
    ``pt.dp_distance``) between the model tuned with ``model.prompt_for(f)`` and the
    triangle wave ``f`` of slope 8, at ``(d, L, delta) = (1, 1, 1/4)``."""
    value = _number(answer)
    if value < 0:
        raise Wrong("answer is a distance: it cannot be negative")
    if value < 1e-3:
        raise Wrong(
            "answer is almost zero: that is the distance to the quantized target q∘f∘q, "
            "the exercise asks for the distance to the triangle wave f itself"
        )
    if value > 1:
        raise Wrong("answer is larger than 1: both functions take values in [0, 1]")
    # Monte Carlo with a few thousand samples is within about 0.01 of the exact value
    expect_close(value, _SAW_EXACT, atol=0.03, what="answer")
    return None


# ------------------------------------------------------------------ contextual_mapping
_CM = (1, 2, 0.5)  # (d, L, delta) of the collision exercise


@lru_cache(maxsize=1)
def _flat_front():
    """The code layer and an averaging head (``lam = 0``) for :data:`_CM`, with the grid."""
    return front_model(dimensions(*_CM, lam=0.0)), grid_sequences(*_CM)


@exercise_check("ex-cm-collision")
def check_contextual_mapping_1(answer):
    """``answer``: two different grid prompts for ``(d, L, delta) = (1, 2, 1/2)`` as an array
    of shape ``(2, 1, 8)`` (entries among the cell centres 1/4 and 3/4) that give every grid
    input the same contextual codes at ``lambda = 0``."""
    d, L, _ = _CM
    length = dimensions(*_CM).prompt_length
    prompts = as_array(answer, (2, d, length), what="answer (two prompts)")
    centres = torch.tensor([0.25, 0.75], dtype=torch.float64)
    on_grid = (prompts.unsqueeze(-1) - centres).abs().min(dim=-1).values <= 1e-9
    if not bool(on_grid.all()):
        raise Wrong("every entry of a grid prompt must be a cell centre, 1/4 or 3/4")
    if torch.equal(prompts[0], prompts[1]):
        raise Wrong("your two prompts are the same prompt: the exercise asks for two different")
    front, grid = _flat_front()
    codes = contextual_codes(front, prompts, grid)[..., 0]  # (2, G, L)
    gap = (codes[0] - codes[1]).abs()
    if float(gap.max()) > 1e-9 * float(codes.abs().max()):
        g, k = divmod(int(gap.argmax()), L)
        raise Wrong(
            f"at lambda = 0 your prompts give grid input {g} different codes (at position "
            f"{k}): they do not collide"
        )
    return None


@lru_cache(maxsize=1)
def _rank_separations() -> tuple[float, float, float, float]:
    lam = default_lam(2, 1, 0.5)
    full = contextual_separation(2, 1, 0.5, lam, rank="full")
    one = contextual_separation(2, 1, 0.5, lam)
    return full.relative, one.relative, full.min_gap, one.min_gap


@exercise_check("ex-cm-rank")
def check_contextual_mapping_2(answer):
    """``answer``: the pair ``(full-rank separation, rank-one separation)`` of relative
    separations (``Separation.relative``) at ``(2, 1, 1/2)`` and the construction's scale."""
    full, one = _pair(answer, ("full rank", "rank one"))
    ref_full, ref_one, gap_full, gap_one = _rank_separations()

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-6 * abs(b)

    if close(full, ref_one) and close(one, ref_full):
        raise Wrong("the two numbers are swapped: full rank first, then rank one")
    if close(full, gap_full) or close(one, gap_one):
        raise Wrong(
            "that is the absolute gap (min_gap): the exercise asks for the gap relative to "
            "the range of the codes"
        )
    for value, ref, name in ((full, ref_full, "full rank"), (one, ref_one, "rank one")):
        if value <= 0:
            raise Wrong(f"the {name} separation must be positive: both heads are injective")
        expect_close(value, ref, rtol=1e-6, what=f"the {name} separation")
    return None


# ------------------------------------------------------------------ universality
@lru_cache(maxsize=1)
def _own_model():
    return construct(2, 1, 0.5)


_OWN_LIPSCHITZ = 2.0


@exercise_check("ex-univ-own")
def check_universality_2(answer):
    """``answer``: a function ``f`` from inputs ``(N, 2, 1)`` (float64 tensors, entries in
    [0, 1]) to outputs ``(N, 2, 1)`` in [0, 1], 2-Lipschitz in the entry-wise 2-norm."""
    f = as_function(answer)
    X = uniform_inputs(512, 2, 1, seed=11)
    Y = call(f, X.clone(), what="your target")
    Y = as_array(Y, what="f(X)")
    if tuple(Y.shape) != (512, 2, 1):
        raise Wrong(
            "your target must map a batch of inputs (N, d, L) = (N, 2, 1) to outputs of the "
            f"same shape; for N = 512 it returned shape {tuple(Y.shape)}"
        )
    if float(Y.min()) < -1e-12 or float(Y.max()) > 1 + 1e-12:
        raise Wrong(
            f"your target takes values in [{float(Y.min()):.3g}, {float(Y.max()):.3g}]: "
            "the theorem needs values in [0, 1]"
        )
    if float(Y.std(dim=0).max()) < 1e-6:
        raise Wrong("your target is constant: write one that depends on its input")
    try:
        lip = empirical_lipschitz(f, 2, 1, n_pairs=2048, seed=5)
    except Exception as error:  # the reader's function on points the check chose
        raise Wrong(f"your target raised {type(error).__name__}: {error}") from None
    if lip > _OWN_LIPSCHITZ * (1 + 1e-6):
        raise Wrong(
            "your target is not 2-Lipschitz: on some pair of inputs its outputs are "
            f"{lip:.3g} times as far apart as the inputs"
        )
    model = _own_model()
    P = call(model.prompt_for, f, what="model.prompt_for(your target)")
    agree = off_ramp_agreement(model, P, f, n_samples=2048, seed=3)
    if not agree.passes():  # the construction says this cannot happen
        raise Wrong("the tuned model differs from your quantized target off the ramps")
    return (
        "The prompt-tuned model equals your quantized target off the ramps "
        f"(largest difference {agree.max_error:.1e} on {agree.n_off_ramp} inputs)."
    )


_ETA = 0.05


def _midpoints(n: int) -> torch.Tensor:
    return ((torch.arange(n, dtype=torch.float64) + 0.5) / n).reshape(n, 1, 1)


@lru_cache(maxsize=1)
def _eta_errors() -> tuple[float, float]:
    """Both errors by the midpoint rule on [0, 1] (``d = L = 1``), deterministic.

    With the default ``eta`` the model computes ``q o f o q`` off ramps of measure
    ``3e-7``, so its error is that of the quantized target, on a fine grid; with ``eta =
    0.05`` the model itself runs on 1024 points (about 50 per ramp).
    """
    f = random_relu_target(1, 1, seed=0)
    X = _midpoints(1 << 16)
    default = float((quantized_target(f, 1, 1, 0.25)(X) - f(X)).pow(2).mean().sqrt())
    model = construct(1, 1, 0.25, eta=_ETA)
    X = _midpoints(1024)
    wide = float((model.forward(model.prompt_for(f), X) - f(X)).pow(2).mean().sqrt())
    return default, wide


@exercise_check("ex-univ-eta")
def check_universality_3(answer):
    """``answer``: the pair ``(error with the default eta, error with eta = 0.05)`` of
    ``d_2`` distances (numbers or ``pt.dp_distance`` estimates) for the random network
    ``pt.random_relu_target(1, 1, seed=0)`` at ``(d, L, delta) = (1, 1, 1/4)``."""
    default, wide = _pair(answer, ("default eta", "eta = 0.05"))
    ref_default, ref_wide = _eta_errors()
    tol = 0.012  # a few standard errors of a Monte Carlo estimate with 1024 samples
    if abs(default - ref_wide) <= tol and abs(wide - ref_default) <= tol:
        raise Wrong("the two errors are swapped: the default eta first, then eta = 0.05")
    if abs(wide - default) <= 1e-9:
        raise Wrong(
            "your two errors are equal: did you pass eta=0.05 to U.construct for the second?"
        )
    expect_close(default, ref_default, atol=tol, what="the error with the default eta")
    expect_close(wide, ref_wide, atol=tol, what="the error with eta = 0.05")
    return None
