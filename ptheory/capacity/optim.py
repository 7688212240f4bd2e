"""Optimisers for many independent small problems at once (the capacity part's engine).

:func:`batched_lbfgs` runs L-BFGS on ``B`` independent functions with per-run curvature
history and line search, so that a run's iterates do not depend on the batch it shares;
:func:`single_thread` keeps such tiny tensor work on one CPU thread.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import torch

from .._validate import as_tensor, check_int, check_real
from ..model import torch_threads

__all__ = ["batched_lbfgs", "on_one_thread", "single_thread"]


def single_thread() -> contextlib.AbstractContextManager[None]:
    """Run tiny tensor work on one CPU thread (restoring the setting afterwards): for the
    small batched problems of this part, thread start-up costs far more than it saves."""
    return torch_threads(1)


def on_one_thread(fn: Callable) -> Callable:
    """Decorator: run ``fn`` inside :func:`single_thread`."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_thread():
            return fn(*args, **kwargs)

    return wrapper


def batched_lbfgs(
    fg: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    x0: torch.Tensor,
    steps: int,
    *,
    history: int = 10,
    max_line_search: int = 30,
    gtol: float = 1e-12,
    ftol: float = 1e-15,
    subset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise ``B`` independent functions at once with L-BFGS.

    ``x0: (B, n)``; ``fg(x)`` returns the ``B`` values and their gradients ``(B, n)``.
    Each run has its own curvature pairs, step and backtracking Armijo line search, and
    stops (keeps its point) once its gradient norm is below ``gtol``, a step changes its
    value by less than ``ftol (1 + |f|)``, or its line search fails along ``-g``; so a
    run's iterates do not depend on the others. Returns the final points and the curve
    ``(steps + 1, B)``.

    With ``subset=True``, ``fg(x, rows)`` is called with the points ``x: (k, n)`` of the runs
    ``rows`` (a ``LongTensor``) only: the line search then evaluates only the runs that are
    neither finished nor accepted yet. Otherwise ``fg(x)`` gets all ``B`` runs each time.
    """
    if not callable(fg):
        raise TypeError(f"fg must be callable, got {type(fg).__name__}")
    x0 = as_tensor(x0, "x0")
    if x0.dim() != 2:
        raise ValueError(f"x0 must have shape (B, n), got {tuple(x0.shape)}")
    steps = check_int(steps, "steps", minimum=0)
    history = check_int(history, "history", minimum=1)
    max_line_search = check_int(max_line_search, "max_line_search", minimum=1)
    gtol = check_real(gtol, "gtol", minimum=0.0)
    ftol = check_real(ftol, "ftol", minimum=0.0)
    if not isinstance(subset, bool):
        raise TypeError(f"subset must be a bool, got {type(subset).__name__}")
    x = x0.clone()
    B, n = x.shape
    every = torch.arange(B, device=x.device)
    f, g = fg(x, every) if subset else fg(x)
    m = history
    S = x.new_zeros(B, m, n)
    Yh = x.new_zeros(B, m, n)
    rho = x.new_zeros(B, m)
    gamma = x.new_ones(B)
    count = torch.zeros(B, dtype=torch.long, device=x.device)
    done = g.norm(dim=-1) < gtol
    curve = [f.clone()]
    for _ in range(steps):
        if bool(done.all()):
            curve.append(f.clone())
            continue
        q = g.clone()
        alpha = x.new_zeros(B, m)
        for i in reversed(range(m)):
            alpha[:, i] = rho[:, i] * (S[:, i] * q).sum(-1)
            q = q - alpha[:, i, None] * Yh[:, i]
        r = gamma[:, None] * q
        for i in range(m):
            beta = rho[:, i] * (Yh[:, i] * r).sum(-1)
            r = r + S[:, i] * (alpha[:, i] - beta)[:, None]
        direction = -r
        slope = (direction * g).sum(-1)
        bad = ~(slope < 0) | ~torch.isfinite(slope)
        direction = torch.where(bad[:, None], -g, direction)
        slope = torch.where(bad, -(g * g).sum(-1), slope)
        t = torch.where(
            count == 0, (1.0 / g.abs().sum(-1).clamp_min(1e-300)).clamp(max=1.0), x.new_ones(B)
        )
        accepted = done.clone()
        x_new, f_new, g_new = x.clone(), f.clone(), g.clone()
        for _ in range(max_line_search):
            trial = x + t[:, None] * direction
            if subset:  # evaluate only the runs still searching
                rows = (~accepted).nonzero().squeeze(-1)
                ft = torch.full_like(f, torch.inf)
                gt = g.clone()
                ft_rows, gt_rows = fg(trial[rows], rows)
                ft[rows], gt[rows] = ft_rows, gt_rows
            else:
                ft, gt = fg(trial)
            ok = ~accepted & torch.isfinite(ft) & (ft <= f + 1e-4 * t * slope)
            x_new = torch.where(ok[:, None], trial, x_new)
            f_new = torch.where(ok, ft, f_new)
            g_new = torch.where(ok[:, None], gt, g_new)
            accepted = accepted | ok
            if bool(accepted.all()):
                break
            t = torch.where(accepted, t, 0.5 * t)
        moved = accepted & ~done
        s, y = x_new - x, g_new - g
        sy, yy = (s * y).sum(-1), (y * y).sum(-1)
        valid = moved & (sy > 1e-12 * s.norm(dim=-1) * y.norm(dim=-1)) & (sy > 0)
        push = valid[:, None, None]
        S = torch.where(push, torch.cat([S[:, 1:], s[:, None]], dim=1), S)
        Yh = torch.where(push, torch.cat([Yh[:, 1:], y[:, None]], dim=1), Yh)
        new_rho = torch.cat([rho[:, 1:], (1.0 / sy.clamp_min(1e-300))[:, None]], dim=1)
        rho = torch.where(valid[:, None], new_rho, rho)
        gamma = torch.where(valid, sy / yy.clamp_min(1e-300), gamma)
        count_before = count.clone()
        count = count + valid.long()
        failed = ~accepted  # line search failed: forget the history, restart from -g
        S = torch.where(failed[:, None, None], torch.zeros_like(S), S)
        Yh = torch.where(failed[:, None, None], torch.zeros_like(Yh), Yh)
        rho = torch.where(failed[:, None], torch.zeros_like(rho), rho)
        count = torch.where(failed, torch.zeros_like(count), count)
        # A run stops when its line search fails from steepest descent (it is at its floor
        # in float64), when its gradient vanishes, or when a step no longer changes it.
        stalled = moved & ((f - f_new).abs() <= ftol * (1.0 + f.abs()))
        done = done | (failed & (count_before == 0)) | stalled | (g_new.norm(dim=-1) < gtol)
        x, f, g = x_new, f_new, g_new
        curve.append(f.clone())
    return x, torch.stack(curve)
