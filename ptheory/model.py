"""The transformer the book studies, and prompt tuning on it.

Tokens are columns: one sequence is ``Z: (d, n)``, a batch is ``Z: (..., d, n)``.
The layers follow Hu et al. (2025, Section 2) and Wang et al. (2023, Section 3):

* attention with residual, softmax over each column (over the keys)::

      Attn(Z) = Z + sum_h W_O^h W_V^h Z softmax((W_K^h Z)^T W_Q^h Z * scale)

* a token-wise feed-forward layer with residual::

      FF(Z) = Z + W_2 ReLU(W_1 Z + b_1 1^T) + b_2 1^T

* a transformer: any sequence of these, by default ``FF o Attn o FF`` blocks, with
  optional positional offsets ``E: (d, n_max)`` added to the input columns;
* prompt tuning: run the frozen model on ``[P, X]`` and keep the last ``L`` columns.

There is no layer norm and no mask (unmasked attention, as in both papers).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import torch
from torch import nn

from ._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real

__all__ = [
    "Attention",
    "FeedForward",
    "ScoreScale",
    "Transformer",
    "build_transformer",
    "default_device",
    "freeze",
    "mixing_attention",
    "prompt_forward",
    "resolve_scale",
    "torch_threads",
]

ScoreScale = Literal["1/d", "1/sqrt(d)", "none"] | float
"""How attention scores are scaled: ``"1/d"`` (Alman and Song), ``"1/sqrt(d)"``
(common practice), ``"none"`` (Hu et al.'s and Wang et al.'s formulas), or a number."""


@contextlib.contextmanager
def torch_threads(k: int | None) -> Iterator[None]:
    """Run the enclosed torch work on ``k`` CPU threads (``None``: leave the setting), then
    restore the thread count it found, also when the work raises."""
    if k is not None:
        k = check_int(k, "k", minimum=1)
    before = torch.get_num_threads()
    if k is not None:
        torch.set_num_threads(k)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_device() -> torch.device:
    """The device heavy computations should use: CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_scale(scale: ScoreScale, d: int) -> float:
    """Turn a :data:`ScoreScale` into the number that multiplies the scores."""
    d = check_int(d, "d", minimum=1)
    if isinstance(scale, str):
        table = {"1/d": 1.0 / d, "1/sqrt(d)": 1.0 / math.sqrt(d), "none": 1.0}
        if scale not in table:
            raise ValueError(
                f"scale must be one of {sorted(table)} or a positive number, got {scale!r}"
            )
        return table[scale]
    return check_real(scale, "scale", minimum=0.0, strict_minimum=True)


def _generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))


def _randn(
    shape: tuple[int, ...], std: float, gen: torch.Generator | None, dtype: torch.dtype
) -> torch.Tensor:
    # Drawn in float64 on the CPU so that a seed gives the same weights for every dtype.
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * std).to(dtype)


class Attention(nn.Module):
    """Unmasked softmax self-attention with ``heads`` heads of size ``head_size``, plus residual.

    ``forward(Z) = Z + attend(Z, Z)`` (or ``attend(Z, Z)`` with ``residual=False``) for
    ``Z: (..., d, n)``. The rank of ``W_K^T W_Q`` is at most ``head_size``; set the
    weights with :meth:`from_weights` for an explicit construction (for example rank 1).

    Weights are stored per head: ``W_Q, W_K, W_V: (heads, s, d)`` and ``W_O: (heads, d, s)``.
    Random weights have entries ``N(0, 1/d)`` (and ``N(0, 1/s)`` for ``W_O``).
    """

    def __init__(
        self,
        d: int,
        head_size: int | None = None,
        *,
        heads: int = 1,
        scale: ScoreScale = "1/sqrt(d)",
        residual: bool = True,
        seed: int | None = 0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        d = check_int(d, "d", minimum=1)
        s = d if head_size is None else check_int(head_size, "head_size", minimum=1)
        heads = check_int(heads, "heads", minimum=1)
        self.d, self.head_size, self.heads = d, s, heads
        self.scale_spec = scale
        self.scale = resolve_scale(scale, d)
        self.residual = bool(residual)
        gen = _generator(seed)
        self.W_Q = nn.Parameter(_randn((heads, s, d), d**-0.5, gen, dtype))
        self.W_K = nn.Parameter(_randn((heads, s, d), d**-0.5, gen, dtype))
        self.W_V = nn.Parameter(_randn((heads, s, d), d**-0.5, gen, dtype))
        self.W_O = nn.Parameter(_randn((heads, d, s), s**-0.5, gen, dtype))

    @classmethod
    def from_weights(
        cls,
        W_Q: torch.Tensor,
        W_K: torch.Tensor,
        W_V: torch.Tensor,
        W_O: torch.Tensor,
        *,
        scale: ScoreScale = "none",
        residual: bool = True,
    ) -> Attention:
        """Build a layer from given weights: ``W_Q, W_K, W_V: (s, d)`` and ``W_O: (d, s)``
        for one head, or with a leading ``heads`` dimension for several."""
        mats = {"W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O}
        dtype = as_tensor(W_Q, "W_Q").dtype
        mats = {k: check_finite(as_tensor(v, k, dtype=dtype), k) for k, v in mats.items()}
        for k, v in mats.items():
            if v.dim() == 2:
                mats[k] = v.unsqueeze(0)
            elif v.dim() != 3:
                raise ValueError(
                    f"{k} must have shape (s, d) or (heads, s, d), got {tuple(v.shape)}"
                )
        heads, s, d = mats["W_Q"].shape
        for k in ("W_K", "W_V"):
            if mats[k].shape != (heads, s, d):
                raise ValueError(
                    f"{k} must have the shape of W_Q {(heads, s, d)}, got {tuple(mats[k].shape)}"
                )
        if mats["W_O"].shape != (heads, d, s):
            raise ValueError(f"W_O must have shape {(heads, d, s)}, got {tuple(mats['W_O'].shape)}")
        layer = cls(d, s, heads=heads, scale=scale, residual=residual, seed=None, dtype=dtype)
        with torch.no_grad():
            for k, v in mats.items():
                getattr(layer, k).copy_(v)
        return layer

    def key_query_matrix(self) -> torch.Tensor:
        """``W_K^T W_Q`` per head, shape ``(heads, d, d)``; its rank is at most ``head_size``."""
        return self.W_K.transpose(-1, -2) @ self.W_Q

    def scores(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Scaled scores ``(W_K K)^T W_Q Q * scale``: ``(..., heads, n_keys, n_queries)``."""
        q = self.W_Q @ queries.unsqueeze(-3)  # (..., heads, s, n_q)
        k = self.W_K @ keys.unsqueeze(-3)  # (..., heads, s, n_k)
        return (k.transpose(-1, -2) @ q) * self.scale

    def head_outputs(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Each head's ``W_O W_V K softmax(scores)``: ``(..., heads, d, n_queries)``."""
        weights = torch.softmax(self.scores(queries, keys), dim=-2)
        values = self.W_O @ (self.W_V @ keys.unsqueeze(-3))  # (..., heads, d, n_k)
        return values @ weights

    def attend(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """``Att(Q, K) = sum_h W_O^h W_V^h K softmax(...)``, without the residual.

        ``queries: (..., d, n_q)`` are the columns that ask, ``keys: (..., d, n_k)`` the
        columns that answer (they give both keys and values). Returns ``(..., d, n_q)``.
        """
        queries = check_matrix_batch(
            as_tensor(queries, "queries", dtype=self.W_Q.dtype), "queries", rows=self.d
        )
        keys = check_matrix_batch(
            as_tensor(keys, "keys", dtype=self.W_Q.dtype), "keys", rows=self.d
        )
        if keys.shape[-1] == 0:
            raise ValueError("keys must have at least one column")
        return self.head_outputs(queries, keys).sum(dim=-3)

    def forward(self, Z: torch.Tensor) -> torch.Tensor:
        Z = check_matrix_batch(as_tensor(Z, "Z", dtype=self.W_Q.dtype), "Z", rows=self.d)
        out = self.attend(Z, Z)
        return Z + out if self.residual else out

    def extra_repr(self) -> str:
        return (
            f"d={self.d}, head_size={self.head_size}, heads={self.heads}, "
            f"scale={self.scale_spec!r}, residual={self.residual}"
        )


class FeedForward(nn.Module):
    """Token-wise two-layer ReLU network with residual, ``Z: (..., d, n) -> (..., d, n)``::

        FF(Z) = Z + W_2 ReLU(W_1 Z + b_1 1^T) + b_2 1^T

    ``W_1: (hidden, d)``, ``b_1: (hidden,)``, ``W_2: (d, hidden)``, ``b_2: (d,)``. Random
    weights have entries ``N(0, 1/d)`` and ``N(0, 1/hidden)``, biases start at zero.
    """

    def __init__(
        self,
        d: int,
        hidden: int,
        *,
        residual: bool = True,
        seed: int | None = 0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.d = check_int(d, "d", minimum=1)
        self.hidden = check_int(hidden, "hidden", minimum=1)
        self.residual = bool(residual)
        gen = _generator(seed)
        self.W_1 = nn.Parameter(_randn((hidden, d), d**-0.5, gen, dtype))
        self.b_1 = nn.Parameter(torch.zeros(hidden, dtype=dtype))
        self.W_2 = nn.Parameter(_randn((d, hidden), hidden**-0.5, gen, dtype))
        self.b_2 = nn.Parameter(torch.zeros(d, dtype=dtype))

    @classmethod
    def from_weights(
        cls,
        W_1: torch.Tensor,
        b_1: torch.Tensor,
        W_2: torch.Tensor,
        b_2: torch.Tensor,
        *,
        residual: bool = True,
    ) -> FeedForward:
        """Build a layer from ``W_1: (hidden, d)``, ``b_1: (hidden,)``, ``W_2: (d, hidden)``,
        ``b_2: (d,)``."""
        dtype = as_tensor(W_1, "W_1").dtype
        W_1, b_1, W_2, b_2 = (
            check_finite(as_tensor(v, k, dtype=dtype), k)
            for k, v in {"W_1": W_1, "b_1": b_1, "W_2": W_2, "b_2": b_2}.items()
        )
        if W_1.dim() != 2:
            raise ValueError(f"W_1 must have shape (hidden, d), got {tuple(W_1.shape)}")
        hidden, d = W_1.shape
        for name, v, shape in (
            ("b_1", b_1, (hidden,)),
            ("W_2", W_2, (d, hidden)),
            ("b_2", b_2, (d,)),
        ):
            if tuple(v.shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(v.shape)}")
        layer = cls(d, hidden, residual=residual, seed=None, dtype=dtype)
        with torch.no_grad():
            layer.W_1.copy_(W_1)
            layer.b_1.copy_(b_1)
            layer.W_2.copy_(W_2)
            layer.b_2.copy_(b_2)
        return layer

    def forward(self, Z: torch.Tensor) -> torch.Tensor:
        Z = check_matrix_batch(as_tensor(Z, "Z", dtype=self.W_1.dtype), "Z", rows=self.d)
        hidden = torch.relu(self.W_1 @ Z + self.b_1[:, None])
        out = self.W_2 @ hidden + self.b_2[:, None]
        return Z + out if self.residual else out

    def extra_repr(self) -> str:
        return f"d={self.d}, hidden={self.hidden}, residual={self.residual}"


class Transformer(nn.Module):
    """A sequence of token-dimension-preserving layers, with optional positional offsets.

    ``positions: (d, n_max)`` (if given) is added to the first ``n`` columns of the input
    before the first layer: a sequence ``[P, X]`` of length ``n = L_p + L`` gets
    ``E[:, :n]``, so prompt and input positions differ. Targets that are not
    permutation-equivariant need this (or position-dependent offsets in a layer).
    """

    def __init__(self, layers: Sequence[nn.Module], positions: torch.Tensor | None = None) -> None:
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise TypeError(
                    f"layers[{i}] must be a torch.nn.Module, got {type(layer).__name__}"
                )
        dims = {getattr(layer, "d", None) for layer in layers} - {None}
        if len(dims) > 1:
            raise ValueError(f"layers must share one token dimension d, got {sorted(dims)}")
        self.layers = nn.ModuleList(layers)
        self.d: int = dims.pop() if dims else -1
        if positions is not None:
            positions = check_finite(as_tensor(positions, "positions"), "positions")
            check_matrix_batch(
                positions,
                "positions",
                ndim=2,
                layout="(d, n_max)",
                rows=self.d if self.d > 0 else None,
            )
            self.register_buffer("positions", positions)
        else:
            self.positions = None

    def forward(self, Z: torch.Tensor) -> torch.Tensor:
        Z = as_tensor(Z, "Z", dtype=self._dtype())
        check_matrix_batch(Z, "Z", rows=self.d if self.d > 0 else None)
        if self.positions is not None:
            n = Z.shape[-1]
            if n > self.positions.shape[-1]:
                raise ValueError(
                    f"Z has {n} columns but positions only cover {self.positions.shape[-1]}"
                )
            Z = Z + self.positions[:, :n].to(Z.dtype)
        for layer in self.layers:
            Z = layer(Z)
        return Z

    def _dtype(self) -> torch.dtype:
        for param in self.parameters():
            return param.dtype
        return torch.get_default_dtype()

    def freeze(self) -> Transformer:
        """Stop gradients to every weight (the pretrained model of prompt tuning)."""
        return freeze(self)


def mixing_attention(
    d: int,
    *,
    heads: int = 1,
    key_scale: float = 2.0,
    scale: ScoreScale = "none",
    residual: bool = True,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Attention:
    """Attention that only mixes tokens: ``W_V^h = I / heads``, ``W_O^h = I``.

    ``Att(x, Z) = Z (1/heads) sum_h softmax_h``, a convex combination of the columns of
    ``Z``, so outputs can be drawn in the same plane as the tokens. ``W_Q^h, W_K^h`` are
    ``d x d`` with entries ``N(0, key_scale^2 / d)``, drawn from ``seed``.
    """
    d = check_int(d, "d", minimum=1)
    heads = check_int(heads, "heads", minimum=1)
    key_scale = check_real(key_scale, "key_scale", minimum=0.0)
    gen = _generator(check_int(seed, "seed", minimum=0))
    W_Q = _randn((heads, d, d), key_scale * d**-0.5, gen, dtype)
    W_K = _randn((heads, d, d), key_scale * d**-0.5, gen, dtype)
    eye = torch.eye(d, dtype=dtype).expand(heads, d, d)
    return Attention.from_weights(
        W_Q, W_K, eye / heads, eye.clone(), scale=scale, residual=residual
    )


def freeze(model: nn.Module) -> nn.Module:
    """Set ``requires_grad = False`` on every parameter of ``model`` and return it."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def build_transformer(
    d: int,
    *,
    blocks: int = 1,
    hidden: int | None = None,
    head_size: int | None = None,
    heads: int = 1,
    scale: ScoreScale = "1/sqrt(d)",
    max_len: int | None = None,
    position_scale: float = 0.5,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Transformer:
    """A random frozen transformer ``(FF o Attn o FF)^blocks`` with token dimension ``d``.

    ``hidden`` is the feed-forward width (default ``4 d``), ``head_size`` the attention's
    ``s`` (default ``d``). With ``max_len`` the model gets random positional offsets
    ``E: (d, max_len)`` with entries ``N(0, position_scale^2)``. All weights come from
    ``seed``, so the same arguments always give the same model.
    """
    d = check_int(d, "d", minimum=1)
    blocks = check_int(blocks, "blocks", minimum=1)
    hidden = 4 * d if hidden is None else check_int(hidden, "hidden", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    position_scale = check_real(position_scale, "position_scale", minimum=0.0)
    layers: list[nn.Module] = []
    for b in range(blocks):
        base = seed * 1000 + 3 * b
        layers.append(FeedForward(d, hidden, seed=base, dtype=dtype))
        layers.append(Attention(d, head_size, heads=heads, scale=scale, seed=base + 1, dtype=dtype))
        layers.append(FeedForward(d, hidden, seed=base + 2, dtype=dtype))
    positions = None
    if max_len is not None:
        max_len = check_int(max_len, "max_len", minimum=1)
        gen = _generator(seed * 1000 + 999)
        positions = _randn((d, max_len), position_scale, gen, dtype)
    return Transformer(layers, positions).freeze()


def _model_placement(
    model: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.dtype | None, torch.device | None]:
    """The dtype and device of a module's first parameter (``None`` for plain callables)."""
    if isinstance(model, nn.Module):
        for param in model.parameters():
            return param.dtype, param.device
    return None, None


def prompt_forward(
    model: Callable[[torch.Tensor], torch.Tensor],
    P: torch.Tensor,
    X: torch.Tensor,
) -> torch.Tensor:
    """Prompt tuning's forward pass: ``model([P, X])[..., -L:]``.

    ``P: (d, L_p)`` is one soft prompt shared by the whole batch, or ``P: (R, d, L_p)``
    holds ``R`` prompts evaluated at once. ``X: (d, L)`` is one input or ``X: (N, d, L)``
    a batch. Returns the last ``L`` output columns: ``(d, L)``, ``(N, d, L)``, or with
    ``R`` prompts ``(R, d, L)`` / ``(R, N, d, L)``. ``L_p = 0`` runs the bare model.
    """
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    dtype, device = _model_placement(model)
    X = check_finite(as_tensor(X, "X", dtype=dtype, device=device), "X")
    check_matrix_batch(
        X,
        "X",
        ndim=(2, 3),
        layout="(N, d, L) or (d, L)",
        rows=getattr(model, "d", None) if getattr(model, "d", -1) > 0 else None,
    )
    P = check_finite(as_tensor(P, "P", dtype=X.dtype, device=X.device), "P")
    check_matrix_batch(P, "P", ndim=(2, 3), layout="(d, L_p) or (R, d, L_p)")
    d, L = X.shape[-2], X.shape[-1]
    if P.shape[-2] != d:
        raise ValueError(
            f"P must have d = {d} rows like X (tokens are columns), got shape {tuple(P.shape)}"
        )
    if L == 0:
        raise ValueError("X must have at least one column")
    if P.dim() == 3:  # R prompts: put the prompt index in front of the batch
        X = X.unsqueeze(0).expand(P.shape[0], *X.shape)
        if X.dim() == 4:
            P = P.unsqueeze(1)
    P = P.expand(*X.shape[:-1], P.shape[-1])
    out = model(torch.cat([P, X], dim=-1))
    return out[..., -L:]
