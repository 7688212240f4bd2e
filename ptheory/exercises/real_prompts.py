"""Exercises of the chapter real_soft_prompts: quick checks and probes.

- ``ex-real-tilt``: the certified ray bound over the loss without a prompt, for the ray
  dataset (seed 0, head 1, radius :data:`RADIUS`) at three tilts.
- ``ex-real-same``: the certified bound and the best tuned loss of the same-direction
  dataset.

The quick checks hold no answer: shapes, ranges, and the properties the exercises state
(a certified bound is never above the loss it bounds).
"""

from __future__ import annotations

from typing import Any

from ._core import Wrong, as_array, as_number, exercise

__all__: list[str] = []

CHAPTER = "real_soft_prompts"
TILTS = (0.25, 0.5, 1.0)
"""The tilts of ``ex-real-tilt``, in order."""
RADIUS = 30.0
"""The ray datasets' radius in the chapter and its exercises."""
LENGTHS = (1, 4, 16)
"""The prompt lengths of ``ex-real-same``."""


# ------------------------------------------------------------------ ex-real-tilt
def _ratios(answer: Any) -> list[float]:
    return as_array(answer, (len(TILTS),), "answer (one ratio per tilt)").tolist()


@exercise("ex-real-tilt", chapter=CHAPTER, probe=_ratios)
def _quick_tilt(answer: Any) -> None:
    """Three numbers in (0, 1]: a certified bound on the loss of every prompt is positive
    when the rays never meet, and never above the loss without a prompt."""
    for t, r in zip(TILTS, _ratios(answer), strict=True):
        if r <= 0:
            raise Wrong(f"tilt {t}: the ratio must be positive, since the rays never meet "
                        "and the bound is certified")  # fmt: skip
        if r > 1 + 1e-9:
            raise Wrong(f"tilt {t}: a ratio above 1 cannot be: the bound also holds for a "
                        "prompt whose weight tends to 0, whose loss tends to the loss "
                        "without a prompt")  # fmt: skip


# ------------------------------------------------------------------ ex-real-same
def _pair(answer: Any) -> tuple[float, float]:
    if isinstance(answer, str | bytes | dict) or not isinstance(answer, tuple | list):
        raise Wrong("answer must be a pair (bound, best_loss)")
    if len(answer) != 2:
        raise Wrong(f"answer must be a pair (bound, best_loss), got {len(answer)} items")
    return as_number(answer[0], "bound"), as_number(answer[1], "best_loss")


def _probe_same(answer: Any) -> list[float]:
    return list(_pair(answer))


@exercise("ex-real-same", chapter=CHAPTER, probe=_probe_same)
def _quick_same(answer: Any) -> None:
    """Two non-negative numbers, the bound not above the tuned loss (no prompt beats a
    certified bound)."""
    bound, best = _pair(answer)
    if bound < 0 or best < 0:
        raise Wrong("a bound on a squared loss and the loss itself are never negative")
    if best < bound * (1 - 1e-9):
        raise Wrong("best_loss is below the certified bound: no prompt can do that")
