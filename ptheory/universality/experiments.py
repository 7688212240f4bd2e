"""The measurements of the universality chapter, kept out of the notebook cells.

:func:`error_sweep` measures the ``d_p`` error of the construction against ``delta`` for
several targets (Hu et al. 2025, Theorems 2.1/2.2 in this book's reconstruction);
:func:`cost_rows` tabulates what the construction costs, from :func:`dimensions`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from .._validate import check_int, check_p
from ..distance import dp_distance
from .build import construct, dimensions
from .grid import quantization_bound, quantized_target

__all__ = ["cost_rows", "error_sweep"]

BUILD_LIMIT = 5_000  # contextual codes: beyond this the chapter does not build the model


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
    """``d_p`` error of the construction for each target and ``delta``, with its bound.

    ``targets`` maps a label to ``(f, C)``: a function ``(N, d, L) -> (N, d, L)`` into
    ``[0, 1]`` and a Lipschitz constant. Where the model has at most ``BUILD_LIMIT``
    contextual codes it is built and run on the target's prompt; beyond, the error is that
    of ``q o f o q``, the function the construction computes on every input outside the
    quantizer's ramps. Returns ``{"errors", "stderr", "bounds"}`` (label -> list) and
    ``"built"`` (list of bool).
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    if not isinstance(targets, Mapping) or not targets:
        raise TypeError("targets must be a non-empty mapping from labels to (f, C)")
    out = {"errors": {}, "stderr": {}, "bounds": {}, "built": []}
    models = {}
    for delta in deltas:
        build = dimensions(d, L, delta).n_codes <= BUILD_LIMIT
        out["built"].append(build)
        if build:
            models[delta] = construct(d, L, delta, p)
    for label, (f, C) in targets.items():
        errs, ses, bnds = [], [], []
        for delta in deltas:
            if delta in models:
                model = models[delta]
                g, bound = model.tuned(model.prompt_for(f)), model.error_bound(C)
            else:
                g, bound = quantized_target(f, d, L, delta), quantization_bound(C, d, L, delta, p)
            est = dp_distance(g, f, d, L, p=p, n_samples=n_samples, seed=seed, batch_size=512)
            errs.append(est.value)
            ses.append(est.stderr)
            bnds.append(bound)
        out["errors"][label], out["stderr"][label], out["bounds"][label] = errs, ses, bnds
    return out


def cost_rows(d: int, L: int, deltas: Sequence[float]) -> list[dict]:
    """One row per ``delta``: prompt length, class size, widths, depths, parameters, norm.

    Everything from :func:`dimensions` (the wide and the one-layer-per-code deep value
    map); big integers are given as ``log10``.
    """
    rows = []
    for delta in deltas:
        wide = dimensions(d, L, delta)
        deep = dimensions(d, L, delta, value_map="deep")
        rows.append(
            {
                "1/delta": round(1 / delta),
                "L_p": wide.prompt_length,
                "log10 targets": round(math.log10(wide.class_size), 1),
                "log10 codes": round(math.log10(wide.n_codes), 1),
                "wide: value width": _fmt(wide.value_width),
                "wide: weights": _fmt(wide.n_params),
                "deep: depth": _fmt(deep.depth),
                "deep: value width": deep.value_width,
                "key/query max": round(wide.key_query_norm, 3),
            }
        )
    return rows


def _fmt(n: int) -> str:
    return f"{n:,}" if n < 10**7 else f"1e{math.log10(n):.1f}"
