"""Exercises of the Universality part: quick checks and probes.

- ``ex-index-code`` (prompt_as_index): the largest ``1/delta`` with fewer than ``10^100``
  quantized targets at ``d = 1, L = 2``, an integer.
- ``ex-index-break`` (prompt_as_index): the ``d_2`` distance between the model tuned for
  the triangle wave of slope 8 and the wave itself, as the pair (the estimate of
  ``pt.dp_distance`` with its default sample, the exact value by hand).
- ``ex-cm-collision`` (contextual_mapping): two different grid prompts whose contextual
  codes coincide on every grid input when the attention averages (``beta = 0``).
- ``ex-cm-rank`` (contextual_mapping): the relative separations of the full-rank and the
  rank-one head at ``(2, 1, 1/2)`` and the construction's scale.
- ``ex-univ-own`` (universality): the reader's own 2-Lipschitz target for ``d = 2, L = 1``.
- ``ex-univ-eta`` (universality): the ``d_2`` errors of the construction with the default
  and a wide quantizer ramp.

The quick checks hold no answer: they test types, shapes, ranges, the properties the
exercises state and mistakes visible without the answer. The probes turn an answer into
plain data (numbers, or the reader's function evaluated on inputs fixed here); the
instructor's graders judge that data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ..distance import uniform_inputs
from ..universality.grid import grid_sequences
from ._core import Wrong, as_array, as_function, as_integer, as_number, call, exercise

__all__: list[str] = []

F64 = torch.float64


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


# ------------------------------------------------------------------ ex-index-code
INDEX_CODE = {"d": 1, "L": 2, "digits": 100}
"""The exercise's case: ``d = 1``, ``L = 2``, fewer than ``10^100`` targets."""


def _probe_index_code(answer: Any) -> int:
    value = as_number(answer)
    if 0 < value < 1:
        raise Wrong("answer must be 1/delta, a whole number of cells per entry, not delta")
    return as_integer(answer)


@exercise("ex-index-code", chapter="prompt_as_index", probe=_probe_index_code)
def _quick_index_code(answer: Any) -> None:
    """An integer number of cells per entry, at least 2 (not ``delta`` itself)."""
    v = _probe_index_code(answer)
    if v < 2:
        raise Wrong(f"answer = {v}: 1/delta must be at least 2 (two cells per entry)")


# ------------------------------------------------------------------ ex-index-break
INDEX_BREAK = {"d": 1, "L": 1, "delta": 0.25, "slope": 8.0}
"""The exercise's case: the model at ``(1, 1, 1/4)`` and the triangle wave of slope 8."""


def _probe_index_break(answer: Any) -> list[float]:
    return list(_pair(answer, ("measured distance", "exact distance")))


@exercise("ex-index-break", chapter="prompt_as_index", probe=_probe_index_break)
def _quick_index_break(answer: Any) -> None:
    """Two distances in ``(0, 1]``; a measured distance near zero is the distance to the
    quantized target, not to the wave."""
    measured, exact = _probe_index_break(answer)
    for value, name in ((measured, "the measured distance"), (exact, "the exact distance")):
        if value < 0:
            raise Wrong(f"{name} is a distance: it cannot be negative")
        if value > 1:
            raise Wrong(f"{name} is larger than 1: both functions take values in [0, 1]")
    if measured < 1e-3:
        raise Wrong(
            "the measured distance is almost zero: that is the distance to the quantized "
            "target q∘f∘q; the exercise asks for the distance to the triangle wave f itself"
        )


# ------------------------------------------------------------------ ex-cm-collision
CM_COLLISION = {"d": 1, "L": 2, "delta": 0.5, "prompt_length": 8}
"""The exercise's case: grid prompts of 8 tokens at ``(1, 2, 1/2)``."""

_CENTRES = torch.tensor([0.25, 0.75], dtype=F64)


def _probe_collision(answer: Any) -> dict[str, Any]:
    length = CM_COLLISION["prompt_length"]
    prompts = as_array(answer, (2, 1, length), what="answer (two prompts)")
    distance = (prompts.unsqueeze(-1) - _CENTRES).abs()
    off = float(distance.min(dim=-1).values.max())
    levels = distance.argmin(dim=-1)[:, 0, :]  # the nearest centre of each entry
    return {"levels": levels.tolist(), "off_grid": off}


@exercise("ex-cm-collision", chapter="contextual_mapping", probe=_probe_collision)
def _quick_collision(answer: Any) -> None:
    """Two grid prompts (every entry a cell centre) that are different prompts."""
    data = _probe_collision(answer)
    if data["off_grid"] > 1e-9:
        raise Wrong("every entry of a grid prompt must be a cell centre, 1/4 or 3/4")
    if data["levels"][0] == data["levels"][1]:
        raise Wrong(
            "your two prompts are the same grid prompt (their entries lie in the same "
            "cells): the exercise asks for two different prompts"
        )


# ------------------------------------------------------------------ ex-cm-rank
CM_RANK = {"d": 2, "L": 1, "delta": 0.5}
"""The exercise's case: the construction's codes at ``(2, 1, 1/2)``."""


def _probe_rank(answer: Any) -> list[float]:
    return list(_pair(answer, ("full rank", "rank one")))


@exercise("ex-cm-rank", chapter="contextual_mapping", probe=_probe_rank)
def _quick_rank(answer: Any) -> None:
    """Two separations relative to the code range: numbers in ``(0, 1)``."""
    for value, name in zip(_probe_rank(answer), ("full rank", "rank one"), strict=True):
        if not 0 < value < 1:
            raise Wrong(
                f"the {name} separation is {value:.3g}: a gap relative to the range of the "
                "codes lies strictly between 0 and 1 for an injective head"
            )


# ------------------------------------------------------------------ ex-univ-own
OWN = {"d": 2, "L": 1, "delta": 0.5, "lipschitz": 2.0}
"""The exercise's case: a 2-Lipschitz target for ``d = 2, L = 1``, grid ``1/2``."""

_OWN_STEP = 1e-3


@lru_cache(maxsize=1)
def own_inputs() -> dict[str, torch.Tensor]:
    """Inputs on which the probe evaluates the reader's target: the grid centres of the
    exercise's size (``"grid"``), random points (``"base"``), each moved by ``1e-3`` in a
    random direction (``"near"``), and random partners (``"far"``); all ``(N, 2, 1)``."""
    d, L = OWN["d"], OWN["L"]
    base = uniform_inputs(512, d, L, seed=11)
    gen = torch.Generator().manual_seed(12)
    direction = torch.randn(512, d, L, generator=gen, dtype=F64)
    direction /= direction.flatten(1).norm(dim=1)[:, None, None]
    near = (base + _OWN_STEP * direction).clamp(0.0, 1.0)
    far = uniform_inputs(512, d, L, seed=13)
    return {"grid": grid_sequences(d, L, OWN["delta"]), "base": base, "near": near, "far": far}


def _own_outputs(answer: Any) -> dict[str, torch.Tensor]:
    f = as_function(answer)
    out = {}
    for name, X in own_inputs().items():
        Y = as_array(call(f, X.clone(), what="your target"), what="f(X)")
        if tuple(Y.shape) != tuple(X.shape):
            raise Wrong(
                "your target must map a batch of inputs (N, d, L) = (N, 2, 1) to outputs of "
                f"the same shape; for N = {X.shape[0]} it returned shape {tuple(Y.shape)}"
            )
        out[name] = Y
    return out


def _probe_own(answer: Any) -> dict[str, list]:
    return {name: Y.tolist() for name, Y in _own_outputs(answer).items()}


def own_lipschitz(outputs: dict[str, torch.Tensor]) -> float:
    """The largest ratio ``||f(X) - f(X')||_2 / ||X - X'||_2`` over the probe's pairs
    (near pairs and far pairs), from the outputs on :func:`own_inputs`."""
    inputs = own_inputs()
    ratios = []
    for other in ("near", "far"):
        dx = (inputs["base"] - inputs[other]).flatten(1).norm(dim=1)
        dy = (outputs["base"] - outputs[other]).flatten(1).norm(dim=1)
        keep = dx > 0
        ratios.append((dy[keep] / dx[keep]).max())
    return float(torch.stack(ratios).max())


@exercise("ex-univ-own", chapter="universality", probe=_probe_own)
def _quick_own(answer: Any) -> None:
    """Shape, values in ``[0, 1]``, not constant, and the Lipschitz constant the exercise
    asks for, on the probe's pairs of inputs."""
    out = _own_outputs(answer)
    every = torch.cat([Y.flatten() for Y in out.values()])
    lo, hi = float(every.min()), float(every.max())
    if lo < -1e-12 or hi > 1 + 1e-12:
        raise Wrong(
            f"your target takes values in [{lo:.3g}, {hi:.3g}]: the theorem needs values in [0, 1]"
        )
    if float(out["base"].std(dim=0).max()) < 1e-6:
        raise Wrong("your target is constant: write one that depends on its input")
    lip = own_lipschitz(out)
    if lip > OWN["lipschitz"] * (1 + 1e-6):
        raise Wrong(
            "your target is not 2-Lipschitz: on some pair of inputs its outputs are "
            f"{lip:.3g} times as far apart as the inputs"
        )
    return None


# ------------------------------------------------------------------ ex-univ-eta
UNIV_ETA = {"d": 1, "L": 1, "delta": 0.25, "eta": 0.05, "target_seed": 0}
"""The exercise's case: the random network of seed 0 at ``(1, 1, 1/4)``, ramps ``0.05``."""


def _probe_eta(answer: Any) -> list[float]:
    return list(_pair(answer, ("default eta", "eta = 0.05")))


@exercise("ex-univ-eta", chapter="universality", probe=_probe_eta)
def _quick_eta(answer: Any) -> None:
    """Two distances in ``[0, 1]``, and not the same number twice."""
    default, wide = _probe_eta(answer)
    for value, name in ((default, "default eta"), (wide, "eta = 0.05")):
        if not 0 <= value <= 1:
            raise Wrong(f"the error with {name} must be a d_2 distance in [0, 1], got {value:.3g}")
    if abs(wide - default) <= 1e-12:
        raise Wrong(
            "your two errors are equal: did you pass eta=0.05 to U.construct for the second?"
        )
