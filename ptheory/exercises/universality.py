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

import math
from functools import lru_cache
from typing import Any

import torch

from ..distance import uniform_inputs
from ..universality.build import one_thread as _one_thread
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

LINE_POINTS = 2**20 + 1
"""Points on each line of the Lipschitz search: neighbours ``2^-20`` (about ``1e-6``) apart."""
SHORTEST = 1e-8
"""The shortest pair the refinement halves down to: shorter, and float64 rounding of the
outputs (about ``1e-16``) would move a difference quotient by more than ``1e-6``."""
_KEEP = 8  # the worst pairs the probe records


@lru_cache(maxsize=1)
def own_inputs() -> dict[str, torch.Tensor]:
    """Inputs on which the probe evaluates the reader's target: the grid centres of the
    exercise's size (``"grid"``) and random points (``"base"``), both ``(N, 2, 1)``."""
    d, L = OWN["d"], OWN["L"]
    return {"grid": grid_sequences(d, L, OWN["delta"]), "base": uniform_inputs(512, d, L, seed=11)}


def _lines() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The search's lines through ``[0, 1]^2``, as (start, end) points ``(2,)``: one along
    each coordinate and the two diagonals."""
    c = 0.2617  # a height off the grid's cell boundaries and centres
    ends = [((0.0, c), (1.0, c)), ((c, 0.0), (c, 1.0)), ((0.0, 0.0), (1.0, 1.0))]
    ends.append(((0.0, 1.0), (1.0, 0.0)))
    return [(torch.tensor(a, dtype=F64), torch.tensor(b, dtype=F64)) for a, b in ends]


def _evaluate(f, X: torch.Tensor) -> torch.Tensor:
    """``f(X)`` for ``X: (N, 2, 1)``, in chunks, checked for shape; ``(N, 2)``."""
    out = []
    for a in range(0, X.shape[0], 1 << 17):
        chunk = X[a : a + (1 << 17)]
        Y = as_array(call(f, chunk.clone(), what="your target"), what="f(X)")
        if tuple(Y.shape) != tuple(chunk.shape):
            raise Wrong(
                "your target must map a batch of inputs (N, d, L) = (N, 2, 1) to outputs of "
                f"the same shape; for N = {chunk.shape[0]} it returned shape {tuple(Y.shape)}"
            )
        out.append(Y.reshape(Y.shape[0], -1))
    return torch.cat(out)


def _quotients(X: torch.Tensor, Y: torch.Tensor, Xp: torch.Tensor, Yp: torch.Tensor):
    """``||Y - Yp|| / ||X - Xp||`` row by row; ``inf`` where two equal inputs have
    different outputs, ``0`` where a pair is one point with one value."""
    dx = (X - Xp).norm(dim=-1)
    dy = (Y - Yp).norm(dim=-1)
    return torch.where(dx > 0, dy / dx.clamp_min(1e-300), torch.where(dy > 0, math.inf, 0.0))


def _refine(f, a: torch.Tensor, b: torch.Tensor, fa: torch.Tensor, fb: torch.Tensor):
    """Halve each pair ``(a_i, b_i)`` (rows ``(2,)``) toward its steeper half, down to
    :data:`SHORTEST`: a step or a steep ramp between the two points is followed down to
    its own width. Returns the shortened pairs and their outputs."""
    while float((a - b).norm(dim=-1).max()) > 2 * SHORTEST:
        mid = (a + b) / 2
        fm = _evaluate(f, mid[:, :, None])
        left = _quotients(a, fa, mid, fm) >= _quotients(mid, fm, b, fb)
        long = (a - b).norm(dim=-1) > 2 * SHORTEST
        go_left = (left & long)[:, None]
        go_right = (~left & long)[:, None]
        b, fb = torch.where(go_left, mid, b), torch.where(go_left, fm, fb)
        a, fa = torch.where(go_right, mid, a), torch.where(go_right, fm, fa)
    return a, b, fa, fb


def _ascent(f, starts: torch.Tensor, steps: int = 60, h: float = 1e-6):
    """Gradient ascent of ``||f(x + h u) - f(x)|| / h`` over ``x`` and the direction ``u``
    from ``starts: (S, 2)``, where the reader's function is differentiable in torch;
    ``None`` where it is not (a NumPy function, say)."""
    gen = torch.Generator().manual_seed(14)
    x = starts.clone().requires_grad_(True)
    u = torch.randn(starts.shape, generator=gen, dtype=F64).requires_grad_(True)
    opt = torch.optim.Adam([x, u], lr=0.01)

    def ends() -> tuple[torch.Tensor, torch.Tensor]:  # both inside [0, 1]^2
        a = x.clamp(h, 1 - h)
        return a, a + h * u / u.norm(dim=-1, keepdim=True)

    try:
        for _ in range(steps):
            a, b = ends()
            fa = torch.as_tensor(f(a[:, :, None])).reshape(len(a), -1)
            fb = torch.as_tensor(f(b[:, :, None])).reshape(len(a), -1)
            loss = -((fa - fb).norm(dim=-1) / h).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    except Exception:  # not differentiable in torch: the other searches still run
        return None
    with torch.no_grad():
        a, b = ends()
    return a.detach(), b.detach()


@_one_thread
def worst_pairs(f) -> dict[str, Any]:
    """An adversarial search of the largest ``||f(X) - f(X')||_2 / ||X - X'||_2`` of the
    reader's target on ``[0, 1]^{2 x 1}``, and the values it takes.

    Three searches, then a refinement: neighbouring points ``2^-20`` apart on four lines
    (one along each coordinate, and the two diagonals);
    neighbours on a ``257 x 257`` grid, along the axes and diagonals; gradient ascent of
    the difference quotient where ``f`` is differentiable in torch. The steepest pairs
    are then halved toward their steeper half down to :data:`SHORTEST`, which follows a
    step or a steep ramp down to its own width. Returns the :data:`_KEEP` steepest pairs
    found (``"a"``, ``"b"``, ``"fa"``, ``"fb"``: lists of points and values) and the
    smallest and largest value seen. No search of finitely many points can see a
    feature narrower than its spacing where it does not look: a spike narrower than
    ``1e-6``, or one that no line crosses, may escape."""
    f = as_function(f)
    firsts, seconds = [], []
    lo, hi = math.inf, -math.inf
    t = torch.linspace(0.0, 1.0, LINE_POINTS, dtype=F64)[:, None]
    for start, end in _lines():
        X = start + t * (end - start)
        Y = _evaluate(f, X[:, :, None])
        lo, hi = min(lo, float(Y.min())), max(hi, float(Y.max()))
        q = _quotients(X[1:], Y[1:], X[:-1], Y[:-1])
        top = torch.topk(q, _KEEP).indices
        firsts.append((X[top], Y[top]))
        seconds.append((X[top + 1], Y[top + 1]))
    g = torch.linspace(0.0, 1.0, 257, dtype=F64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), dim=-1)  # (257, 257, 2)
    values = _evaluate(f, grid.reshape(-1, 2, 1)).reshape(257, 257, 2)
    lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    for step in ((1, 0), (0, 1), (1, 1), (1, -1)):
        rows = slice(0, 257 - step[0])
        cols = slice(max(0, -step[1]), 257 - max(0, step[1]))
        rows2 = slice(step[0], 257)
        cols2 = slice(max(0, step[1]), 257 - max(0, -step[1]))
        A, FA = grid[rows, cols].reshape(-1, 2), values[rows, cols].reshape(-1, 2)
        B, FB = grid[rows2, cols2].reshape(-1, 2), values[rows2, cols2].reshape(-1, 2)
        top = torch.topk(_quotients(A, FA, B, FB), _KEEP).indices
        firsts.append((A[top], FA[top]))
        seconds.append((B[top], FB[top]))
    a = torch.cat([x for x, _ in firsts])
    b = torch.cat([x for x, _ in seconds])
    starts = torch.cat([(a + b) / 2, uniform_inputs(64, 2, 1, seed=15)[:, :, 0]])
    climbed = _ascent(f, starts)
    if climbed is not None:
        a, b = torch.cat([a, climbed[0]]), torch.cat([b, climbed[1]])
    a, b = a.detach(), b.detach()
    a, b, fa, fb = _refine(f, a, b, _evaluate(f, a[:, :, None]), _evaluate(f, b[:, :, None]))
    top = torch.topk(_quotients(a, fa, b, fb), _KEEP).indices
    return {
        "a": a[top].tolist(),
        "b": b[top].tolist(),
        "fa": fa[top].tolist(),
        "fb": fb[top].tolist(),
        "low": lo,
        "high": hi,
    }


def own_lipschitz(pairs: dict[str, Any]) -> float:
    """The largest difference quotient among the pairs :func:`worst_pairs` recorded."""
    a, b, fa, fb = (torch.tensor(pairs[k], dtype=F64) for k in ("a", "b", "fa", "fb"))
    return float(_quotients(a, fa, b, fb).max())


def _outputs(answer: Any) -> dict[str, torch.Tensor]:
    f = as_function(answer)
    return {name: _evaluate(f, X).reshape(X.shape) for name, X in own_inputs().items()}


def _probe_own(answer: Any) -> dict[str, Any]:
    out = {name: Y.tolist() for name, Y in _outputs(answer).items()}
    out["search"] = worst_pairs(answer)
    return out


def _judge_own(outputs: dict[str, torch.Tensor], search: dict[str, Any]) -> None:
    """What the quick check and the grader both ask of the reader's target."""
    lo = min(float(Y.min()) for Y in outputs.values()) if outputs else math.inf
    lo, hi = (
        min(lo, search["low"]),
        max([search["high"], *(float(Y.max()) for Y in outputs.values())]),
    )
    if lo < -1e-12 or hi > 1 + 1e-12:
        raise Wrong(
            f"your target takes values in [{lo:.3g}, {hi:.3g}]: the theorem needs values in [0, 1]"
        )
    if float(outputs["base"].std(dim=0).max()) < 1e-6:
        raise Wrong("your target is constant: write one that depends on its input")
    lip = own_lipschitz(search)
    if lip > OWN["lipschitz"] * (1 + 1e-6):
        raise Wrong(
            "your target is not 2-Lipschitz: on some pair of inputs its outputs are "
            f"{lip:.3g} times as far apart as the inputs"
        )


@exercise("ex-univ-own", chapter="universality", probe=_probe_own)
def _quick_own(answer: Any) -> None:
    """Shape, values in ``[0, 1]``, not constant, and the Lipschitz constant the exercise
    asks for, against the adversarial search of :func:`worst_pairs`."""
    _judge_own(_outputs(answer), worst_pairs(answer))
    return None


judge_own = _judge_own
"""The shared judgement of ``ex-univ-own`` (the grader adds the sharp check)."""


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
