"""Reading the sweep's results: learning curves, final losses and their intervals.

The chapter ``real_soft_prompts`` loads the committed results of :mod:`ptheory.real.sweep`
(:func:`load`) and reads them with these functions. A *point* is one method of one size
at one ``N``; its runs are its 15 (5 initialisations by 3 tasks; 3 for one tuned layer).

- :func:`losses`: the lowest loss of each run of a point, after ``at`` evaluations
  (default: the whole budget).
- :func:`interval`: the mean of a point's runs and a 95% bootstrap interval of it (fixed
  seed: the same numbers on every machine).
- :func:`apart`: whether two points' runs do not overlap task by task (every run of one,
  on each task, below every run of the other on that task): the order claims of the
  chapter, which no choice of initialisation seeds can undo.
- :func:`linear_floor`: ``max(0, 1 - m / M)``, the expected relative loss of the best
  fit of ``M`` random targets by ``m`` parameters that act linearly (a projection onto an
  ``m``-dimensional space keeps ``m / M`` of a random vector's squared norm).
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import check_int

__all__ = [
    "apart",
    "curve",
    "interval",
    "linear_floor",
    "load",
    "losses",
    "numerical_rank",
    "point",
]


def load() -> dict[str, Any]:
    """The committed results of the sweep (:mod:`ptheory.real.sweep_results`)."""
    from .sweep_results import RESULTS

    return RESULTS


def point(
    results: dict[str, Any], study: str, method: str, size: int | None, n: int
) -> list[dict[str, Any]]:
    """The runs of one point, in the order (task, initialisation)."""
    runs = [r for r in results["runs"] if r["study"] == study and r["method"] == method
            and r["size"] == size and r["n"] == n]  # fmt: skip
    if not runs:
        raise ValueError(f"no runs of {study}/{method}/{size} at N = {n} in the results")
    return sorted(runs, key=lambda r: (r["task"], r["init"]))


def losses(
    results: dict[str, Any],
    study: str,
    method: str,
    size: int | None,
    n: int,
    at: int | None = None,
) -> torch.Tensor:
    """The lowest loss of each run of the point after ``at`` evaluations (a checkpoint of
    the results; default: the end), float64, in the order (task, initialisation)."""
    out = []
    for r in point(results, study, method, size, n):
        key = str(r["steps"] if at is None else check_int(at, "at", minimum=0))
        if key not in r["best"]:
            raise ValueError(f"at must be one of the checkpoints {sorted(map(int, r['best']))}")
        out.append(r["best"][key])
    return torch.tensor(out, dtype=torch.float64)


def interval(values: torch.Tensor, *, draws: int = 4000, seed: int = 0) -> tuple[float, ...]:
    """``(mean, low, high)``: the mean of ``values`` and the 2.5% and 97.5% quantiles of
    the means of ``draws`` resamples with replacement (a percentile bootstrap, seed
    ``seed``)."""
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if values.numel() < 2:
        raise ValueError("values must hold at least two runs")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(values.numel(), (draws, values.numel()), generator=gen)
    means = values[idx].mean(dim=1)
    lo, hi = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return float(values.mean()), lo, hi


def apart(lower: list[dict[str, Any]], upper: list[dict[str, Any]], at: int | None = None) -> bool:
    """True when, on every task, every run of ``lower`` ends below every run of ``upper``
    (both lists of runs from :func:`point`, on the same tasks)."""
    tasks = sorted({r["task"] for r in lower})
    if tasks != sorted({r["task"] for r in upper}):
        raise ValueError("lower and upper must be runs on the same tasks")

    def end(r: dict[str, Any]) -> float:
        return r["best"][str(r["steps"] if at is None else at)]

    return all(
        max(end(r) for r in lower if r["task"] == t) < min(end(r) for r in upper if r["task"] == t)
        for t in tasks
    )


def curve(
    results: dict[str, Any], study: str, method: str, size: int | None, n: int
) -> tuple[list[int], list[tuple[float, ...]]]:
    """The checkpoints of a point and :func:`interval` of its lowest loss at each."""
    runs = point(results, study, method, size, n)
    checkpoints = sorted({int(k) for k in runs[0]["best"]})
    return checkpoints, [interval(losses(results, study, method, size, n, at=c))
                         for c in checkpoints]  # fmt: skip


def numerical_rank(spectrum: Any, rel: float = 1e-5) -> int:
    """The number of singular values of ``spectrum`` above ``rel`` times the largest."""
    sv = torch.as_tensor(spectrum, dtype=torch.float64).flatten()
    if sv.numel() == 0 or not bool((sv >= 0).all()):
        raise ValueError("spectrum must be a non-empty list of singular values")
    return int((sv > rel * sv.max()).sum())


def linear_floor(parameters: int, targets: int) -> float:
    """``max(0, 1 - parameters / targets)``."""
    parameters = check_int(parameters, "parameters", minimum=1)
    targets = check_int(targets, "targets", minimum=1)
    return max(0.0, 1.0 - parameters / targets)
