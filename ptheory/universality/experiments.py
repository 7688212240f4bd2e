"""The measurements of the universality chapter, kept out of the notebook cells.

:func:`error_sweep` builds the construction at each ``delta`` and measures the ``d_p``
error of the prompt-tuned transformer for several targets, with the off-ramp agreement
of :func:`~.checks.off_ramp_agreement`; :func:`quantized_sweep` measures ``q o f o q``
alone, for grids too fine to build (no transformer is involved there);
:func:`cost_rows` tabulates what the construction costs, from :func:`dimensions`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from .._validate import check_int, check_p
from ..distance import dp_distance
from .build import cached_construct, dimensions
from .checks import off_ramp_agreement
from .grid import quantization_bound, quantized_target

__all__ = ["cost_rows", "error_sweep", "quantized_sweep"]


def _targets(targets: object) -> Mapping[str, tuple[Callable, float]]:
    if not isinstance(targets, Mapping) or not targets:
        raise TypeError("targets must be a non-empty mapping from labels to (f, C)")
    return targets


def _tabulate(
    targets: Mapping[str, tuple[Callable, float]],
    n: int,
    keys: Sequence[str],
    measure: Callable[[int, Callable, float], tuple[float, ...]],
) -> dict:
    """``{key: {label: [value at 0, ..., value at n - 1]}}`` from ``measure(i, f, C)``, which
    returns one value per key, called for each target and then each ``i`` in order."""
    out: dict = {k: {} for k in keys}
    for label, (f, C) in targets.items():
        rows = [measure(i, f, C) for i in range(n)]
        for j, k in enumerate(keys):
            out[k][label] = [row[j] for row in rows]
    return out


def error_sweep(
    targets: Mapping[str, tuple[Callable, float]],
    d: int,
    L: int,
    deltas: Sequence[float],
    *,
    p: float = 2,
    n_samples: int = 2048,
    seed: int = 0,
) -> dict:
    """``d_p`` error of the built, prompt-tuned construction for each target and ``delta``.

    ``targets`` maps a label to ``(f, C)``: a function ``(N, d, L) -> (N, d, L)`` into
    ``[0, 1]`` and its Lipschitz constant. Every ``delta`` is built (``construct`` refuses
    sizes beyond its limit) and run on the target's oracle prompt. Returns
    ``{"errors", "stderr", "bounds", "agreement"}``, each label -> one value per ``delta``
    (``agreement``: the largest off-ramp gap to ``q o f o q``).
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    targets = _targets(targets)
    models = [cached_construct(d, L, delta) for delta in deltas]

    def measure(i: int, f: Callable, C: float) -> tuple[float, ...]:
        model = models[i]
        P = model.prompt_for(f)
        est = dp_distance(
            model.tuned(P), f, d, L, p=p, n_samples=n_samples, seed=seed, batch_size=512
        )
        agreement = off_ramp_agreement(model, P, f, n_samples=n_samples, seed=seed)
        return est.value, est.stderr, model.error_bound(C, p), agreement.max_error

    return _tabulate(targets, len(models), ("errors", "stderr", "bounds", "agreement"), measure)


def quantized_sweep(
    targets: Mapping[str, tuple[Callable, float]],
    d: int,
    L: int,
    deltas: Sequence[float],
    *,
    p: float = 2,
    n_samples: int = 2048,
    seed: int = 0,
) -> dict:
    """``d_p(q o f o q, f)`` and :func:`quantization_bound` for each target and ``delta``:
    the quantized target alone, **no transformer built**. Returns ``{"errors", "bounds"}``."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    targets = _targets(targets)
    deltas = list(deltas)

    def measure(i: int, f: Callable, C: float) -> tuple[float, ...]:
        g = quantized_target(f, d, L, deltas[i])
        est = dp_distance(g, f, d, L, p=p, n_samples=n_samples, seed=seed, batch_size=512)
        return est.value, quantization_bound(C, d, L, deltas[i], p)

    return _tabulate(targets, len(deltas), ("errors", "bounds"), measure)


def cost_rows(d: int, L: int, deltas: Sequence[float]) -> list[dict]:
    """One row per ``delta``: prompt length, sequence length ``n``, class size, widths,
    depths, parameters, the largest query or key entry ``B`` and ``sqrt(ln n)``.

    Everything from :func:`dimensions` (the wide and the one-layer-per-code deep ``FF_2``);
    numbers of targets and codes are given as ``log10``, other large integers as
    ``"2.5e8"``.
    """
    rows = []
    for delta in deltas:
        wide = dimensions(d, L, delta)
        deep = dimensions(d, L, delta, value_map="deep")
        n = wide.prompt_length + wide.L
        rows.append(
            {
                "1/delta": round(1 / delta),
                "L_p": wide.prompt_length,
                "n": n,
                "log10 targets": round(math.log10(wide.class_size), 1),
                "log10 codes": round(math.log10(wide.n_codes), 1),
                "wide: FF2 width": _fmt(wide.value_width),
                "wide: weights": _fmt(wide.n_params),
                "deep: depth": _fmt(deep.depth),
                "deep: FF2 width": deep.value_width,
                "B": round(wide.key_query_norm, 2),
                "sqrt(ln n)": round(math.sqrt(math.log(n)), 2),
            }
        )
    return rows


def _fmt(n: int) -> str:
    """``12,345`` below ten million, else two significant digits: ``2.5e8``."""
    if n < 10**7:
        return f"{n:,}"
    exponent = math.floor(math.log10(n))
    mantissa = round(n / 10**exponent, 1)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f}e{exponent}"
