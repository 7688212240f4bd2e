"""Graders of the chapters memorization_capacity and invertible_layers (instructor-only).

Each grader recomputes what the exercise asks, the way it asks it, and compares within
the quantity's own error: exact arithmetic for the error table and the certified factors;
for prompt-tuning losses, the spread between the exercise's own settings and a longer
search (measured in the tests), never a window between a bound and the untuned value.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ptheory import capacity as cap
from ptheory.exercises import capacity_memory as E
from ptheory.exercises._core import as_array, as_number
from ptheory.model import prompt_forward

from ._core import Wrong, grader


def _direction(value: float, expected: float) -> str:
    return "too large" if value > expected else "too small"


# ------------------------------------------------------------------ ex-mem-short
@lru_cache(maxsize=1)
def _lookup_errors() -> torch.Tensor:
    """``errors[j, i]``: the largest output error at grid input ``i`` without token ``j``."""
    X, Y = cap.bump_dataset(2, 0.1, seed=0)
    P, Xe = cap.lookup_prompt(X, Y), cap.embed_tokens(X)
    model = cap.lookup_model(2)
    rows = []
    with torch.no_grad():
        for j in range(P.shape[1]):
            Q = torch.cat([P[:, :j], P[:, j + 1 :]], dim=1)
            rows.append((prompt_forward(model, Q, Xe)[:, :2] - Y).abs().amax(dim=(1, 2)))
    return torch.stack(rows)


@grader("ex-mem-short")
def lookup_errors(data: object) -> None:
    """Every entry against the errors of the model run without that token."""
    reference = _lookup_errors()
    got = as_array(data, tuple(reference.shape), what="answer")
    for j in range(reference.shape[0]):
        for i in range(reference.shape[1]):
            value, expected = float(got[j, i]), float(reference[j, i])
            if abs(value - expected) > 1e-6 + 1e-4 * abs(expected):
                raise Wrong(
                    f"answer[{j}, {i}] (token {j} removed, input {i}) is "
                    f"{_direction(value, expected)}: run the model on all grid inputs with "
                    "the prompt without column j, and take the largest absolute error over "
                    "the two output entries of input i"
                )


# ------------------------------------------------------------------ ex-inv-radius
STEPS, RESTARTS, LENGTHS = 40, 4, (2, 4, 8)  # the exercise's settings


@lru_cache(maxsize=1)
def _radius_reference() -> tuple[list[float], list[float]]:
    """For each radius of the exercise: the kept fraction with the exercise's settings, and
    the lowest of those and a longer search (80 steps, 8 restarts; at the smaller radii the
    two agree to six digits, so the longer search runs at the largest only)."""
    model = cap.residual_model(d=3, blocks=2, seed=0)
    X, Y = cap.collision_dataset(model, L=1, seed=0)
    with torch.no_grad():
        untuned = float(cap.fit_loss(model(X), Y))
    light, low = [], []
    for r in E.RADII:
        a = cap.prompt_tune(model, X, Y, list(LENGTHS), steps=STEPS, restarts=RESTARTS,
                            max_norm=r).loss  # fmt: skip
        b = a
        if r == max(E.RADII):
            b = cap.prompt_tune(model, X, Y, list(LENGTHS), steps=80, restarts=8,
                                max_norm=r).loss  # fmt: skip
        light.append(a / untuned)
        low.append(min(a, b) / untuned)
    return light, low


def _certified(r: float) -> bool:
    model = cap.residual_model(d=3, blocks=2, seed=0)
    return cap.injectivity_bound(model, r).ell > 0


@grader("ex-inv-radius")
def radius(data: object) -> None:
    """The certified radius to two decimals; each kept fraction between the longer search's
    (less 0.2 %) and the exercise's settings' (plus 0.2 %)."""
    if not isinstance(data, dict) or set(data) != {"r_cert", "kept"}:
        raise Wrong("your answer was not recorded as (r_cert, kept)")
    r_cert = as_number(data["r_cert"], "r_cert")
    if not _certified(r_cert):
        raise Wrong("r_cert is too large: the theorem certifies nothing at that radius")
    if _certified(round(r_cert + 0.01, 2)):
        raise Wrong("r_cert is too small: the theorem still certifies r_cert + 0.01")
    kept = as_array(data["kept"], (len(E.RADII),), what="kept")
    light, low = _radius_reference()
    for r, value, hi, lo in zip(E.RADII, kept.tolist(), light, low, strict=True):
        if value < lo * (1 - 2e-3):
            raise Wrong(
                f"kept at radius {r:g} is too small for prompts whose columns have norm at "
                f"most {r:g}: is it the best loss divided by the loss without a prompt, "
                "with max_norm set and prompt lengths 2, 4 and 8?"
            )
        if value > hi * (1 + 2e-3):
            raise Wrong(
                f"kept at radius {r:g} is too large: has prompt tuning run with the "
                "exercise's settings (lengths 2, 4 and 8, 40 steps, 4 restarts)?"
            )


# ------------------------------------------------------------------ ex-inv-ff
@lru_cache(maxsize=1)
def _ff_reference() -> tuple[float, float]:
    """The certified factor at radius 2, and the best bounded loss with the exercise's
    settings (lengths 1, 2, 4, 8; 40 steps; 4 restarts)."""
    model, X, Y = E.expanding_case()
    alpha = cap.injectivity_bound(model, 2.0).ell
    res = cap.prompt_tune(model, X, Y, [1, 2, 4, 8], steps=40, restarts=4, max_norm=2.0)
    return alpha, res.loss


@grader("ex-inv-ff")
def expanding(data: object) -> None:
    """The factor exactly; the loss within 0.01 % below and 0.15 % above the best loss of the
    exercise's settings (other step counts and restarts land within that)."""
    if not isinstance(data, dict) or set(data) != {"alpha", "loss"}:
        raise Wrong("your answer was not recorded as (alpha, loss)")
    alpha, loss = as_number(data["alpha"], "alpha"), as_number(data["loss"], "loss")
    ref_alpha, ref_loss = _ff_reference()
    if abs(alpha - ref_alpha) > 1e-9 * abs(ref_alpha):
        raise Wrong(
            f"alpha is {_direction(alpha, ref_alpha)}: the factor alpha of "
            "cap.injectivity_bound at radius 2 for the model with ff_norm=3.0 (its .ell)"
        )
    if loss < ref_loss * (1 - 1e-4):
        raise Wrong(
            "loss is too small for prompts whose columns have norm at most 2: did you pass "
            "max_norm=2.0, and use the collision dataset of the ff_norm=3 model?"
        )
    if loss > ref_loss * (1 + 1.5e-3):
        raise Wrong("loss is too large: has prompt tuning run (lengths 1, 2, 4 and 8)?")
