"""The construction: a fixed one-layer, one-head transformer and a prompt for any target.

:func:`construct` builds ``tau = FF_2 o Attn o FF_1`` (see :mod:`.layers`) for
``(d, L, delta)`` once, without any target, and returns a :class:`UniversalModel`.
Its :meth:`~UniversalModel.prompt_for` turns a target into a prompt: the table of the
quantized target's values, one token per (grid sequence, position), ``L_p = G L``
tokens with ``G = V1^{dL}``. ``prompt_for`` is an *oracle*: it reads the target's table;
no gradient is involved. Every grid prompt is a valid prompt, so the prompts index the
whole class of ``V1^{dL G}`` quantized targets (this book's reconstruction of the
meta-function argument of Wang et al. 2023 and of the construction behind Hu et al.
2025, Theorems 2.1 and 2.2).

To build ``FF_2``, :func:`construct` runs the fixed ``FF_1`` and ``Attn`` on every
``[P, X]`` with ``P`` any grid prompt and ``X`` any grid sequence (:func:`grid_codes`),
and checks that the resulting contextual codes are pairwise at least ``min_separation``
(relative to their range) apart. ``FF_2`` then tabulates all ``K = V^{L_p} G L`` codes:
the whole quantized class is stored in the weights. :func:`dimensions` gives every size
analytically; :data:`MAX_CODES` is the one limit on what is built.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_p, check_real
from ..model import Transformer, prompt_forward, torch_threads
from .grid import grid_sequences, levels, quantization_bound, target_table
from .layers import (
    clamp_layer,
    code_offset,
    contextual_attention,
    ff1_layer,
    ff1_width,
    ff2_deep,
    ff2_wide,
    position_offsets,
)

__all__ = [
    "MAX_CODES",
    "Dimensions",
    "UniversalModel",
    "all_prompts",
    "cached_construct",
    "check_enumerable",
    "construct",
    "context_codes",
    "contextual_codes",
    "default_beta",
    "dimensions",
    "ff2_table",
    "front_model",
    "grid_codes",
]

F64 = torch.float64
MAX_CODES = 20_000
"""The one limit on what is enumerated: (grid prompt, grid input, position) triples.

:func:`construct`, :func:`all_prompts`, :func:`grid_codes` and the exact codes of
:mod:`.precision` list every triple; beyond this many they refuse (use
:func:`dimensions`, which computes every size without listing anything)."""
RHO = 0.2  # spread of the scores over the keys, for the lowest query code


def one_thread(fn: Callable) -> Callable:
    """Decorator: run ``fn`` on one CPU thread (restoring the setting afterwards). The
    construction's work is many small tensor operations, for which starting threads
    costs more than it saves, most of all on a busy machine; the results do not depend
    on the thread count."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch_threads(1):
            return fn(*args, **kwargs)

    return wrapper


def default_beta(d: int, L: int, delta: float, rho: float = RHO) -> float:
    """``beta = rho / (A (n V - 1))``: the scores of the lowest query spread over ``rho``.

    Token codes lie in ``[A, A + n V - 1]``, so ``beta a_i a_k`` varies over the keys by
    ``beta a_k (n V - 1) >= rho``: attention is nearly uniform. Any ``beta > 0`` outside a
    finite set makes the codes distinct in exact arithmetic
    (:mod:`.scales`); this one is checked by enumeration wherever a model is built.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    rho = check_real(rho, "rho", minimum=0.0, strict_minimum=True)
    v1 = levels(delta)
    V, G = v1**d, v1 ** (d * L)
    n = G * L + L
    return rho / (code_offset(d, n, delta) * (n * V - 1))


def check_enumerable(dims: Dimensions) -> None:
    """Raise ``ValueError`` (naming ``delta``) if ``dims`` has more than :data:`MAX_CODES`
    (prompt, input, position) triples: too many to list."""
    if dims.n_codes > MAX_CODES:
        raise ValueError(
            f"delta={dims.delta:g} with d={dims.d}, L={dims.L} has "
            f"10^{math.log10(dims.n_codes):.1f} (prompt, input, position) triples, more "
            f"than MAX_CODES = {MAX_CODES} can be listed; use dimensions() for its sizes"
        )


@dataclass(frozen=True)
class Dimensions:
    """Sizes of the construction for ``(d, L, delta)``, computed without building it.

    ``class_size`` and ``n_codes`` are exact integers (they explode); ``width`` is the
    widest feed-forward layer, ``depth`` the number of layers (attention included),
    ``ff2_layers`` the ``(hidden width, how many layers)`` of ``FF_2`` (the builders use
    it), ``beta`` the scale of the attention weights, ``key_query_norm`` the largest entry of
    ``W_Q [P, X]`` and ``W_K [P, X]``.
    """

    d: int
    L: int
    delta: float
    grid_size: int  # G = V1^{dL}
    vocabulary: int  # V = V1^d
    prompt_length: int  # L_p = G L
    class_size: int  # V^{L_p}
    n_codes: int  # K = class_size G L
    code_width: int
    value_width: int
    value_depth: int
    width: int
    depth: int
    n_params: int
    beta: float
    key_query_norm: float
    ff2_layers: tuple[tuple[int, int], ...]


def _ff_params(d: int, hidden: int) -> int:
    return hidden * (2 * d + 1) + d


def dimensions(
    d: int,
    L: int,
    delta: float,
    *,
    value_map: str = "wide",
    depth: int | None = None,
    rank: str = "one",
    beta: float | None = None,
) -> Dimensions:
    """Every size of :func:`construct` ``(d, L, delta, ...)``, analytically (any size)."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    v1 = levels(delta)
    V, G = v1**d, v1 ** (d * L)
    L_p = G * L
    n = L_p + L
    M = V**L_p
    K = M * G * L
    code_width = ff1_width(d, n, delta)
    if value_map == "wide":
        value_layers = [(2 * d + 2 * (K - 1), 1)]  # (hidden width, how many layers)
    elif value_map == "deep":
        depth = K if depth is None else check_int(depth, "depth", minimum=1, maximum=K)
        big, extra = K // depth + 1, K % depth  # torch.tensor_split: the first K % depth
        value_layers = [(4 * big, extra), (4 * (K // depth), depth - extra), (2 * d, 1)]
        value_layers = [(w, c) for w, c in value_layers if c > 0]
    else:
        raise ValueError(f"value_map must be 'wide' or 'deep', got {value_map!r}")
    if rank not in ("one", "full"):
        raise ValueError(f"rank must be 'one' or 'full', got {rank!r}")
    beta = default_beta(d, L, delta) if beta is None else check_real(beta, "beta", minimum=0.0)
    s = 1 if rank == "one" else d
    attn_params = 3 * s * d + d * s
    n_params = (
        _ff_params(d, code_width) + attn_params + sum(c * _ff_params(d, w) for w, c in value_layers)
    )
    a_max = code_offset(d, n, delta) + n * V - 1
    return Dimensions(
        d=d,
        L=L,
        delta=1.0 / v1,
        grid_size=G,
        vocabulary=V,
        prompt_length=L_p,
        class_size=M,
        n_codes=K,
        code_width=code_width,
        value_width=max(w for w, _ in value_layers),
        value_depth=sum(c for _, c in value_layers),
        width=max(code_width, *(w for w, _ in value_layers)),
        depth=2 + sum(c for _, c in value_layers),
        n_params=n_params,
        beta=beta,
        key_query_norm=math.sqrt(beta) * a_max,
        ff2_layers=tuple(value_layers),
    )


def all_prompts(d: int, L: int, delta: float) -> torch.Tensor:
    """Every grid prompt, ``(V^{L_p}, d, L_p)``: one per quantized target."""
    dims = dimensions(d, L, delta)
    check_enumerable(dims)
    v1, V, L_p = levels(delta), dims.vocabulary, dims.prompt_length
    m = torch.arange(V)
    vocab = torch.stack([((m // v1**j) % v1 + 0.5) / v1 for j in range(d)], dim=1).to(F64)
    idx = torch.tensor(list(itertools.product(range(V), repeat=L_p)), dtype=torch.long)
    return vocab[idx].transpose(1, 2).contiguous()


def front_model(dims: Dimensions, *, rank: str = "one", eta: float = 1e-7) -> Transformer:
    """``Attn o FF_1`` on ``[P, X] + E`` for the sizes ``dims`` (from :func:`dimensions`):
    the fixed front of :func:`construct`, which :func:`grid_codes` and
    :func:`~.contextual.contextual_separation` run."""
    if not isinstance(dims, Dimensions):
        raise TypeError(f"dims must be a Dimensions (from dimensions()), got {type(dims).__name__}")
    if rank not in ("one", "full"):
        raise ValueError(f"rank must be 'one' or 'full', got {rank!r}")
    eta = check_real(eta, "eta", minimum=0.0, strict_minimum=True, maximum=dims.delta / 4)
    n = dims.prompt_length + dims.L
    return Transformer(
        [
            ff1_layer(dims.d, n, dims.delta, eta=eta),
            contextual_attention(dims.d, dims.beta, rank=rank),
        ],
        position_offsets(dims.d, n),
    ).freeze()


def grid_codes(
    d: int, L: int, delta: float, *, beta: float | None = None, rank: str = "one"
) -> torch.Tensor:
    """The contextual codes (first entry after ``Attn``) of every (grid prompt, grid
    input, input position): ``(V^{L_p}, G, L)``, float64. The public form of what
    :func:`construct` tabulates and :func:`~.contextual.contextual_separation` measures."""
    dims = dimensions(d, L, delta, rank=rank, beta=beta)
    return context_codes(front_model(dims, rank=rank), d, L, delta)[1][..., 0]


def context_codes(
    front: torch.nn.Module, d: int, L: int, delta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (grid prompt, grid input, input position), run through ``front`` (the model up
    to its attention layer): the tokens after ``FF_1`` and after ``Attn``, each
    ``(V^{L_p}, G, L, d)``, in the order of :func:`all_prompts` and
    :func:`~.grid.grid_sequences`. The one enumeration of the grid contexts that
    :func:`construct`, :func:`grid_codes`, :func:`ff2_table` and the figures use."""
    dims = dimensions(d, L, delta)
    check_enumerable(dims)
    if not isinstance(front, Transformer) or len(front.layers) != 2:
        raise TypeError("front must be the model's FF_1 and attention layer (front_model())")
    prompts, grid = all_prompts(d, L, delta), grid_sequences(d, L, delta)
    code_layer = Transformer(front.layers[:1], front.positions)
    return contextual_codes(code_layer, prompts, grid), contextual_codes(front, prompts, grid)


@one_thread
def contextual_codes(
    front: torch.nn.Module, prompts: torch.Tensor, grid: torch.Tensor
) -> torch.Tensor:
    """The tokens after ``Attn`` for every (prompt, grid sequence, input position).

    ``front`` is the model up to and including the attention layer (with positions);
    ``prompts: (M, d, L_p)``, ``grid: (G, d, L)``. Returns ``(M, G, L, d)``: the column
    of position ``k`` of the input ``g`` read with prompt ``m``.
    """
    if not callable(front):
        raise TypeError(f"front must be a callable model, got {type(front).__name__}")
    prompts = check_matrix_batch(
        as_tensor(prompts, "prompts", dtype=F64), "prompts", ndim=3, layout="(M, d, L_p)"
    )
    grid = check_matrix_batch(
        as_tensor(grid, "grid", dtype=F64),
        "grid",
        ndim=3,
        rows=prompts.shape[1],
        layout="(G, d, L)",
    )
    with torch.no_grad():
        return prompt_forward(front, prompts, grid).transpose(2, 3)


_CHUNK = 1 << 22  # tokens x hidden units per FF_2 call (about 32 MB in float64)


@dataclass(frozen=True, eq=False, repr=False)
class UniversalModel:
    """A fixed transformer that prompt tuning makes approximate any target (see module).

    Built by :func:`construct`. Fields: ``model`` (the frozen
    :class:`~ptheory.model.Transformer`), ``dimensions`` (its :class:`Dimensions`),
    ``rank``, ``value_map``, ``eta`` (ramp width of the quantizer), ``separation``
    (``delta_cm``: the smallest gap between contextual codes of distinct triples),
    ``code_range``, ``grid_error`` (the largest error on grid centres over the whole
    class). The sizes ``d``, ``L``, ``delta``, ``prompt_length``, ``beta``,
    ``key_query_norm``, ``n_codes`` and ``class_size`` are read from ``dimensions``;
    ``n_params``, ``width`` and ``depth`` are counted on ``model``.
    """

    model: Transformer
    dimensions: Dimensions
    rank: str
    value_map: str
    eta: float
    separation: float
    code_range: float
    grid_error: float

    d = property(lambda self: self.dimensions.d)
    L = property(lambda self: self.dimensions.L)
    delta = property(lambda self: self.dimensions.delta)
    prompt_length = property(lambda self: self.dimensions.prompt_length)
    beta = property(lambda self: self.dimensions.beta)
    key_query_norm = property(lambda self: self.dimensions.key_query_norm)
    n_codes = property(lambda self: self.dimensions.n_codes)
    class_size = property(lambda self: self.dimensions.class_size)

    @property
    def n_params(self) -> int:
        return sum(w.numel() for w in self.model.parameters())

    @property
    def width(self) -> int:
        """The widest feed-forward layer of ``model`` (hidden units)."""
        return max(layer.hidden for layer in self.model.layers if hasattr(layer, "hidden"))

    @property
    def depth(self) -> int:
        """The number of layers of ``model``, attention included."""
        return len(self.model.layers)

    def __repr__(self) -> str:
        return (
            f"UniversalModel(d={self.d}, L={self.L}, delta={self.delta:g}, "
            f"prompt_length={self.prompt_length}, width={self.width}, depth={self.depth}, "
            f"n_params={self.n_params}, value_map={self.value_map!r}, rank={self.rank!r})"
        )

    def _prompt(self, P: torch.Tensor, ndim: int | tuple[int, ...] = 2) -> torch.Tensor:
        P = check_finite(as_tensor(P, "P", dtype=F64), "P")
        layout = "(d, L_p)" if ndim == 2 else "(d, L_p) or (R, d, L_p)"
        check_matrix_batch(P, "P", ndim=ndim, rows=self.d, cols=self.prompt_length, layout=layout)
        return P

    @one_thread
    def forward(self, P: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """``tau([P, X])``, last ``L`` columns: ``P: (d, L_p)``, ``X: (N, d, L) -> (N, d, L)``.

        ``P: (R, d, L_p)`` runs ``R`` prompts at once and returns ``(R, N, d, L)``. The
        token-wise ``FF_2`` runs on the last ``L`` columns only, in chunks (the same
        function as running the whole model on every column).
        """
        P = self._prompt(P, ndim=(2, 3))
        X = check_finite(as_tensor(X, "X", dtype=F64), "X")
        check_matrix_batch(X, "X", ndim=3, rows=self.d, cols=self.L, layout="(N, d, L)")
        front = Transformer(self.model.layers[:2], self.model.positions)
        with torch.no_grad():
            Z = prompt_forward(front, P, X)  # (..., d, L) after Attn
            return _run_tokenwise(self.model.layers[2:], Z)

    __call__ = forward

    @one_thread
    def context_codes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every (grid prompt, grid input, position) through this model's ``FF_1`` and
        attention: tokens before and after ``Attn``, each ``(V^{L_p}, G, L, d)``
        (:func:`context_codes` with this model's own ``beta`` and ``eta``)."""
        front = Transformer(self.model.layers[:2], self.model.positions)
        return context_codes(front, self.d, self.L, self.delta)

    @one_thread
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``FF_2`` (every layer after the attention) on tokens ``codes: (N, d)``: ``(N, d)``."""
        codes = check_finite(as_tensor(codes, "codes", dtype=F64), "codes")
        check_matrix_batch(codes.T, "codes", ndim=2, rows=self.d, layout="(N, d)")
        with torch.no_grad():
            return _run_tokenwise(self.model.layers[2:], codes.T).T

    def tuned(self, P: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """The prompt-tuned model ``X -> forward(P, X)`` as a function of ``X`` alone."""
        P = self._prompt(P)
        return lambda X: self.forward(P, X)

    def prompt_for(self, target: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """The oracle prompt ``P: (d, L_p)`` for ``target`` ``(N, d, L) -> (N, d, L)``.

        Column ``g L + k`` is the cell centre of ``target``'s value at position ``k`` of
        grid sequence ``g`` (:func:`~ptheory.universality.grid.grid_sequences` order): the
        prompt is read off the target's table, not found by tuning.
        """
        table = target_table(target, self.d, self.L, self.delta)  # (G, d, L)
        return table.transpose(1, 2).reshape(-1, self.d).T.contiguous()

    def error_bound(self, lipschitz: float, p: float = 2) -> float:
        """A bound on ``d_p(tau_P, f)`` for a ``C``-Lipschitz target with values in [0, 1]:

        ``(C + 1)(delta/2)(dL)^{1/p} + (mu d L)^{1/p} + e_grid (dL)^{1/p}`` with ``mu =
        d L (V1 - 1) eta`` the measure of inputs within ``eta`` above a cell boundary
        (where the output, in ``[0, 1]``, may be anything) and ``e_grid`` the largest
        error of the built model on grid centres (rounding).
        """
        C = check_real(lipschitz, "lipschitz", minimum=0.0)
        p = check_p(p)
        dl = self.d * self.L
        mu = dl * (levels(self.delta) - 1) * self.eta
        return (
            quantization_bound(C, self.d, self.L, self.delta, p)
            + (mu * dl) ** (1.0 / p)
            + self.grid_error * dl ** (1.0 / p)
        )


def _run_tokenwise(layers, Z: torch.Tensor) -> torch.Tensor:
    """Token-wise layers on ``Z: (..., d, L)``, a chunk of columns at a time."""
    widest = max([getattr(layer, "hidden", 1) for layer in layers] + [1])
    shape = Z.shape
    cols = Z.transpose(-1, -2).reshape(-1, shape[-2])  # one token a row
    step = max(1, _CHUNK // widest)
    out = []
    for a in range(0, cols.shape[0], step):
        z = cols[a : a + step].T
        for layer in layers:
            z = layer(z)
        out.append(z.T)
    merged = torch.cat(out) if out else cols
    return merged.reshape(*shape[:-2], shape[-1], shape[-2]).transpose(-1, -2)


@one_thread
def ff2_table(
    d: int, L: int, delta: float, *, beta: float | None = None, rank: str = "one"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The table ``FF_2`` must store: the sorted contextual codes ``(K,)`` and the output
    token each must give ``(K, d)`` (first entry of each output column)."""
    dims = dimensions(d, L, delta, rank=rank, beta=beta)
    _, tokens = context_codes(front_model(dims, rank=rank), d, L, delta)
    values = _table_values(d, L, delta)
    codes, order = torch.sort(tokens.reshape(-1, d)[:, 0])
    return codes, values.reshape(-1, d)[order]


def _table_values(d: int, L: int, delta: float) -> torch.Tensor:
    """The value each (grid prompt m, grid input g, position k) must produce: token
    ``g L + k`` of prompt ``m``, ``(M, G, L, d)``."""
    prompts = all_prompts(d, L, delta)
    return prompts.transpose(1, 2).reshape(len(prompts), -1, L, d)


@one_thread
def construct(
    d: int,
    L: int,
    delta: float,
    *,
    value_map: str = "wide",
    depth: int | None = None,
    rank: str = "one",
    beta: float | None = None,
    eta: float = 1e-7,
    min_separation: float = 1e-9,
) -> UniversalModel:
    """Build the fixed model for ``(d, L, delta)``; no target is involved.

    ``value_map`` is ``"wide"`` (``FF_2`` as one wide layer, as in Hu et al.'s two-layer
    result) or ``"deep"`` (``depth`` narrow layers, default one per code). ``rank`` picks
    ``W_K^T W_Q`` of rank one or full rank, ``beta e_1 e_1^T`` or ``beta I`` (default
    :func:`default_beta`). Raises ``ValueError`` if the class has more than
    :data:`MAX_CODES` codes (use :func:`dimensions`) or if the contextual codes are not
    ``min_separation`` (relative to their range) apart: the attention is then no
    contextual mapping that float64 can read.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    v1 = levels(delta)
    delta = 1.0 / v1
    eta = check_real(eta, "eta", minimum=0.0, strict_minimum=True, maximum=delta / 4)
    min_separation = check_real(min_separation, "min_separation", minimum=0.0)
    dims = dimensions(d, L, delta, value_map=value_map, depth=depth, rank=rank, beta=beta)
    check_enumerable(dims)
    front = front_model(dims, rank=rank, eta=eta)
    _, tokens = context_codes(front, d, L, delta)
    values = _table_values(d, L, delta)
    flat_tokens, flat_values = tokens.reshape(-1, d), values.reshape(-1, d)
    codes, order = torch.sort(flat_tokens[:, 0])
    code_range = float(codes[-1] - codes[0])
    separation = float(codes.diff().min()) if len(codes) > 1 else math.inf
    if not separation > min_separation * code_range:
        raise ValueError(
            f"beta={dims.beta:.3g} gives contextual codes only {separation:.3g} apart "
            f"(range {code_range:.3g}, relative {separation / code_range:.3g} <= "
            f"min_separation = {min_separation:g}): not injective in float64"
        )
    if value_map == "wide":
        value_layers = [ff2_wide(codes, flat_values[order])]
    else:
        n_narrow = sum(count for _, count in dims.ff2_layers) - 1  # the clamp is last
        value_layers = ff2_deep(codes, flat_values[order], flat_tokens[order], n_narrow)
        value_layers.append(clamp_layer(d))
    model = Transformer([*front.layers, *value_layers], front.positions).freeze()
    with torch.no_grad():  # FF_2 on the codes of every (grid prompt, grid input)
        out = _run_tokenwise(value_layers, tokens.transpose(2, 3))  # (M, G, d, L)
    grid_error = float((out - values.transpose(2, 3)).abs().max())
    return UniversalModel(
        model=model,
        dimensions=dims,
        rank=rank,
        value_map=value_map,
        eta=eta,
        separation=separation,
        code_range=code_range,
        grid_error=grid_error,
    )


@functools.lru_cache(maxsize=16)
def cached_construct(d: int, L: int, delta: float, *, eta: float = 1e-7) -> UniversalModel:
    """:func:`construct` with its defaults (and ``eta``), built once per process: the
    model is frozen and depends on its arguments only, so measurements that rebuild the
    same sizes (sweeps, explorers, seeds) share it."""
    return construct(d, L, delta, eta=eta)
