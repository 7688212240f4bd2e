"""A batched prompt-tuning engine for a frozen transformer.

Prompt tuning fits ``P`` in ``min_P (1/N) sum_i ||tau([P, X_i])_{:, -k:} - Y_i||_F^2``: the
targets ``Y: (N, d, k)`` are compared with the **last** ``k`` output columns (``k = L`` for
a full sequence-to-sequence target, ``k = 1`` for a target on the last token only).

Many random restarts and many prompt lengths run in **one** tensor computation: the
prompts of every run are left-padded to the longest length, stacked in a leading run
dimension ``(B, d, L_max)``, and the padded columns are masked out of every attention
layer (their scores are ``-inf``) and get the positions they would have had unpadded, so
each run computes exactly the function of its own prompt length. The optimizers (Adam,
and a batched L-BFGS with a per-run Armijo line search and per-run curvature history) treat
the runs independently: a run's trajectory does not depend on which other runs share its
batch. Initial prompts come from a generator seeded by ``(seed, L_p, restart)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from ..model import Attention, FeedForward, Transformer
from .optim import batched_lbfgs, on_one_thread

__all__ = [
    "PromptTuneResult",
    "check_dataset",
    "fit_loss",
    "initial_prompts",
    "prompt_tune",
]

OPTIMIZERS = ("lbfgs", "adam")


def check_dataset(model: object, X: object, Y: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a dataset for ``model``: ``X: (N, d, L)`` inputs, ``Y: (N, d, k)`` targets for
    the last ``k <= L`` output columns. Returns both as tensors in the model's dtype."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    d = getattr(model, "d", -1)
    dtype = next((p.dtype for p in model.parameters()), torch.float64)
    X = check_finite(as_tensor(X, "X", dtype=dtype), "X")
    check_matrix_batch(X, "X", ndim=3, rows=d if d > 0 else None, layout="(N, d, L)")
    Y = check_finite(as_tensor(Y, "Y", dtype=dtype), "Y")
    check_matrix_batch(Y, "Y", ndim=3, rows=X.shape[1], layout="(N, d, k)")
    if X.shape[0] == 0 or X.shape[2] == 0:
        raise ValueError(f"X must hold at least one input of one token, got {tuple(X.shape)}")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one target per input ({X.shape[0]}), got {Y.shape[0]}")
    if not 1 <= Y.shape[2] <= X.shape[2]:
        raise ValueError(
            f"Y must have between 1 and L = {X.shape[2]} columns (targets for the last "
            f"columns), got {Y.shape[2]}"
        )
    return X, Y


def fit_loss(outputs: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``(1/N) sum_i ||outputs_i[:, -k:] - Y_i||_F^2`` for ``outputs: (..., N, d, L)`` and
    ``Y: (N, d, k)``; returns the leading shape ``(...)``."""
    outputs = as_tensor(outputs, "outputs")
    check_matrix_batch(outputs, "outputs", layout="(..., N, d, L)")
    if outputs.dim() < 3:
        raise ValueError(f"outputs must have shape (..., N, d, L), got {tuple(outputs.shape)}")
    Y = as_tensor(Y, "Y", dtype=outputs.dtype, device=outputs.device)
    check_matrix_batch(Y, "Y", ndim=3, rows=outputs.shape[-2], layout="(N, d, k)")
    if Y.shape[0] != outputs.shape[-3] or Y.shape[-1] > outputs.shape[-1]:
        raise ValueError(
            f"Y must have shape (N, d, k) with N = {outputs.shape[-3]} and k <= "
            f"{outputs.shape[-1]}, got {tuple(Y.shape)}"
        )
    return _fit_loss(outputs, Y)


def _fit_loss(outputs: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    k = Y.shape[-1]
    diff = outputs[..., -k:] - Y
    return diff.pow(2).sum(dim=(-1, -2)).mean(dim=-1)


def _layers(model: nn.Module) -> tuple[list[nn.Module], torch.Tensor | None]:
    if isinstance(model, Transformer):
        layers, positions = list(model.layers), model.positions
    elif isinstance(model, (Attention, FeedForward)):
        layers, positions = [model], None
    else:
        raise TypeError(
            "model must be a ptheory Transformer, Attention or FeedForward, "
            f"got {type(model).__name__}"
        )
    for i, layer in enumerate(layers):
        if not isinstance(layer, (Attention, FeedForward)):
            raise TypeError(
                f"model must be built from Attention and FeedForward layers; layer {i} "
                f"is {type(layer).__name__}"
            )
    return layers, positions


def padded_forward(
    model: nn.Module, P: torch.Tensor, lengths: torch.Tensor, X: torch.Tensor
) -> torch.Tensor:
    """Prompt tuning's forward pass for ``B`` prompts of different lengths at once.

    ``P: (B, d, L_max)`` holds run ``r``'s prompt in its last ``lengths[r]`` columns (the
    rest is padding), ``X: (N, d, L)``. Returns the last ``L`` output columns for every run
    and input, ``(B, N, d, L)``, equal to ``prompt_forward(model, P[r, :, -lengths[r]:], X)``.
    """
    layers, positions = _layers(model)
    B, d, L_max = P.shape
    N, _, L = X.shape
    Z = torch.cat([P.unsqueeze(1).expand(B, N, d, L_max), X.expand(B, N, d, L)], dim=-1)
    col = torch.arange(L_max + L, device=P.device)
    start = (L_max - lengths).unsqueeze(1)  # first real prompt column of each run
    valid = col.unsqueeze(0) >= start  # (B, n)
    if positions is not None:
        n_real = lengths + L
        if int(n_real.max()) > positions.shape[-1]:
            raise ValueError(
                f"prompt_length + L = {int(n_real.max())} exceeds the model's positions "
                f"({positions.shape[-1]})"
            )
        index = (col.unsqueeze(0) - start).clamp_min(0)  # (B, n)
        Z = Z + positions[:, index].permute(1, 0, 2).unsqueeze(1).to(Z.dtype)
    key_bias = torch.zeros(B, L_max + L, dtype=Z.dtype, device=Z.device)
    key_bias = key_bias.masked_fill(~valid, -math.inf)[:, None, None, :, None]
    # After the last attention layer only token-wise layers follow: from there on only the
    # last L columns (the ones prompt tuning keeps) need to be computed.
    last_attn = max((i for i, m in enumerate(layers) if isinstance(m, Attention)), default=-1)
    for i, layer in enumerate(layers):
        if isinstance(layer, Attention):
            queries = Z[..., -L:] if i == last_attn else Z
            scores = layer.scores(queries, Z) + key_bias  # (B, N, heads, n_keys, n_queries)
            weights = torch.softmax(scores, dim=-2)
            values = layer.W_O @ (layer.W_V @ Z.unsqueeze(-3))
            out = (values @ weights).sum(dim=-3)
            if i == last_attn:
                Z = Z[..., -L:]
        else:
            out = layer.W_2 @ torch.relu(layer.W_1 @ Z + layer.b_1[:, None]) + layer.b_2[:, None]
        Z = Z + out if layer.residual else out
    return Z[..., -L:]


def _check_lengths(prompt_length: int | Sequence[int]) -> list[int]:
    if isinstance(prompt_length, (list, tuple)):
        if len(prompt_length) == 0:
            raise ValueError("prompt_length must hold at least one length")
        lengths = [check_int(n, "prompt_length", minimum=1) for n in prompt_length]
        if len(set(lengths)) != len(lengths):
            raise ValueError(f"prompt_length must not repeat a length, got {lengths}")
        return lengths
    if isinstance(prompt_length, torch.Tensor):
        raise TypeError("prompt_length must be an int or a list/tuple of ints, got Tensor")
    return [check_int(prompt_length, "prompt_length", minimum=1)]


def initial_prompts(
    d: int,
    prompt_length: int | Sequence[int],
    restarts: int,
    *,
    init_scale: float = 1.0,
    seed: int = 0,
) -> list[torch.Tensor]:
    """The initial prompts :func:`prompt_tune` starts from: one ``(restarts, d, L_p)`` tensor
    per length, entries ``N(0, init_scale^2)``. Restart ``r`` of length ``L_p`` is drawn from
    its own generator (seeded by ``seed``, ``L_p`` and ``r``), so it is the same whatever
    other lengths and restarts are asked for."""
    d = check_int(d, "d", minimum=1)
    lengths = _check_lengths(prompt_length)
    restarts = check_int(restarts, "restarts", minimum=1)
    init_scale = check_real(init_scale, "init_scale", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    out = []
    for L_p in lengths:
        draws = []
        for r in range(restarts):
            gen = torch.Generator().manual_seed(seed * 1_000_003 + 7_919 * L_p + r)
            draws.append(torch.randn(d, L_p, generator=gen, dtype=torch.float64))
        out.append(torch.stack(draws) * init_scale)
    return out


@dataclass(frozen=True)
class PromptTuneResult:
    """What :func:`prompt_tune` found.

    Attributes:
        loss: the best final loss over all runs (a float).
        prompt: the prompt that attains it, ``(d, L_p)``.
        lengths: the prompt lengths tried, in order.
        losses: final loss of every run, ``(len(lengths), restarts)``.
        prompts: final prompts, one ``(restarts, d, L_p)`` tensor per length.
        curve: loss of every run after each step, ``(steps + 1, len(lengths), restarts)``
            (row 0 is the initial loss; a converged run keeps its last value).
        optimizer: ``"lbfgs"`` or ``"adam"``.
    """

    loss: float
    prompt: torch.Tensor
    lengths: list[int]
    losses: torch.Tensor
    prompts: list[torch.Tensor]
    curve: torch.Tensor
    optimizer: str

    def loss_by_length(self) -> list[float]:
        """The best final loss for each prompt length, in the order of :attr:`lengths`."""
        return [float(v) for v in self.losses.min(dim=1).values]

    def best_curve(self) -> torch.Tensor:
        """The loss curve of the best run overall, ``(steps + 1,)``."""
        flat = self.losses.reshape(-1).argmin()
        return self.curve.reshape(self.curve.shape[0], -1)[:, flat]


def _squash(Q: torch.Tensor, max_norm: float | None) -> torch.Tensor:
    # Column-wise p = R q / sqrt(1 + |q|^2): every prompt column has norm below R.
    if max_norm is None:
        return Q
    return max_norm * Q / torch.sqrt(1.0 + Q.pow(2).sum(dim=-2, keepdim=True))


@on_one_thread
def prompt_tune(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    prompt_length: int | Sequence[int],
    *,
    steps: int = 100,
    restarts: int = 8,
    seed: int = 0,
    optimizer: str = "lbfgs",
    lr: float = 0.05,
    init_scale: float = 1.0,
    max_norm: float | None = None,
    init: Sequence[torch.Tensor] | torch.Tensor | None = None,
) -> PromptTuneResult:
    """Tune soft prompts of one or several lengths on a frozen model, all runs batched.

    ``X: (N, d, L)``, ``Y: (N, d, k)`` (targets of the last ``k`` output columns; see
    :func:`fit_loss`). For each length in ``prompt_length`` (an int or a list), ``restarts``
    prompts start from :func:`initial_prompts` (or from ``init``: one ``(restarts, d, L_p)``
    tensor per length) and are optimised with ``optimizer`` (``"lbfgs"``: ``steps``
    iterations of batched L-BFGS; ``"adam"``: ``steps`` Adam steps of rate ``lr``). All
    ``len(prompt_length) * restarts`` runs share each forward pass. With ``max_norm = R``
    the prompt is reparametrised column-wise as ``R q / sqrt(1 + |q|^2)``, so every prompt
    column has norm below ``R`` (``init`` then holds the raw ``q``). The model's weights are
    never changed. Deterministic: the same arguments give the same result.
    """
    X, Y = check_dataset(model, X, Y)
    _layers(model)
    lengths = _check_lengths(prompt_length)
    steps = check_int(steps, "steps", minimum=0)
    restarts = check_int(restarts, "restarts", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
    if max_norm is not None:
        max_norm = check_real(max_norm, "max_norm", minimum=0.0, strict_minimum=True)
    d = X.shape[1]
    if init is None:
        starts = initial_prompts(d, lengths, restarts, init_scale=init_scale, seed=seed)
    else:
        if isinstance(init, torch.Tensor):
            init = [init]
        if not isinstance(init, (list, tuple)) or len(init) != len(lengths):
            raise ValueError(
                f"init must hold one (restarts, d, L_p) tensor per prompt length "
                f"({len(lengths)}), got {type(init).__name__}"
            )
        starts = []
        for L_p, Q in zip(lengths, init, strict=True):
            Q = check_finite(as_tensor(Q, "init", dtype=X.dtype), "init")
            check_matrix_batch(Q, "init", ndim=3, rows=d, cols=L_p, layout="(restarts, d, L_p)")
            if Q.shape[0] != restarts:
                raise ValueError(f"init must have restarts = {restarts} prompts per length")
            starts.append(Q)
    L_max = max(lengths)
    B = len(lengths) * restarts
    Q0 = X.new_zeros(B, d, L_max)
    run_len = torch.tensor([L_p for L_p in lengths for _ in range(restarts)], device=X.device)
    for j, (L_p, Q) in enumerate(zip(lengths, starts, strict=True)):
        Q0[j * restarts : (j + 1) * restarts, :, L_max - L_p :] = Q.to(X.device)
    col_mask = (torch.arange(L_max, device=X.device)[None] >= (L_max - run_len)[:, None]).to(
        X.dtype
    )[:, None, :]  # (B, 1, L_max): 1 on real prompt columns

    def losses(Q: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        mask = col_mask if rows is None else col_mask[rows]
        lens = run_len if rows is None else run_len[rows]
        P = _squash(Q * mask, max_norm) * mask
        return _fit_loss(padded_forward(model, P, lens, X), Y)

    def fg(flat: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Q = flat.detach().reshape(-1, d, L_max).requires_grad_(True)
        f = losses(Q, rows)
        (grad,) = torch.autograd.grad(f.sum(), Q)
        return f.detach(), (grad * col_mask[rows]).reshape(len(rows), -1)

    if optimizer == "lbfgs":
        flat, curve = batched_lbfgs(fg, Q0.reshape(B, -1), steps, subset=True)
        Q = flat.reshape(B, d, L_max)
    else:
        Q = Q0.clone().requires_grad_(True)
        opt = torch.optim.Adam([Q], lr=lr)
        rows = []
        for _ in range(steps):
            opt.zero_grad()
            f = losses(Q)
            rows.append(f.detach().clone())
            f.sum().backward()
            Q.grad.mul_(col_mask)
            opt.step()
        Q = Q.detach()
        with torch.no_grad():
            rows.append(losses(Q))
        curve = torch.stack(rows)
    with torch.no_grad():
        final = losses(Q)
        P_all = _squash(Q * col_mask, max_norm) * col_mask
    per_run = final.reshape(len(lengths), restarts)
    prompts = [
        P_all[j * restarts : (j + 1) * restarts, :, L_max - L_p :].clone()
        for j, L_p in enumerate(lengths)
    ]
    best = int(final.argmin())
    j_best, r_best = divmod(best, restarts)
    return PromptTuneResult(
        loss=float(final[best]),
        prompt=prompts[j_best][r_best],
        lengths=lengths,
        losses=per_run,
        prompts=prompts,
        curve=curve.reshape(-1, len(lengths), restarts),
        optimizer=optimizer,
    )
