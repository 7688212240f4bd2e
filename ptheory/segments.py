"""The segment lemma: what a soft prompt can do to one attention output.

For one softmax head, splitting the softmax over the prompt columns and the input
columns gives (Wang et al. 2023; Petrov, Torr and Bibi 2024 for prefixes)::

    Att(x, [P, X]) = lam * Att(x, P) + (1 - lam) * Att(x, X),   lam in (0, 1),

where ``lam`` is the softmax mass that the query ``x`` puts on the prompt columns.
Whatever the prompt, the output moves along the segment from ``b = Att(x, X)`` towards
one point ``a = Att(x, P)``. This module computes the three pieces and checks the
identity; with several heads each head has its own ``lam`` and the identity fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from .model import Attention, torch_threads

__all__ = [
    "IdentityReport",
    "PromptSplit",
    "check_prompt_identity",
    "prompt_split",
    "prompt_weight_by_length",
    "segment_fit",
]


@dataclass(frozen=True)
class PromptSplit:
    """The pieces of ``Att(x, [P, X])`` for queries ``x``; shapes for ``n_q`` queries.

    Attributes:
        output: ``Att(x, [P, X])``, computed by the layer on the whole sequence, ``(..., d, n_q)``.
        prompt_part: ``a = Att(x, P)``, ``(..., d, n_q)``.
        input_part: ``b = Att(x, X)``, ``(..., d, n_q)``.
        weight: ``lam``, each head's softmax mass on the prompt columns, ``(..., heads, n_q)``.
        input_weight: ``1 - lam``, the mass left on the input columns, computed from the scores
            directly so that it stays accurate (and positive) where ``lam`` rounds to 1.
    """

    output: torch.Tensor
    prompt_part: torch.Tensor
    input_part: torch.Tensor
    weight: torch.Tensor
    input_weight: torch.Tensor

    def combination(self) -> torch.Tensor:
        """``lam a + (1 - lam) b`` for a single head: the lemma's right-hand side."""
        if self.weight.shape[-2] != 1:
            raise ValueError(
                "combination needs a single head: with several heads "
                "each head has its own weight and no single lam exists"
            )
        lam = self.weight[..., 0, :].unsqueeze(-2)
        rest = self.input_weight[..., 0, :].unsqueeze(-2)
        return lam * self.prompt_part + rest * self.input_part


def prompt_split(
    attn: Attention,
    P: torch.Tensor,
    X: torch.Tensor,
    queries: torch.Tensor | None = None,
) -> PromptSplit:
    """Split attention over ``[P, X]`` into its prompt part and its input part.

    ``P: (..., d, L_p)`` with ``L_p >= 1``, ``X: (..., d, L)``, ``queries: (..., d, n_q)``
    (default: the columns of ``X``, the queries prompt tuning keeps). Leading dimensions
    must broadcast. ``output`` comes from one call of the layer on the concatenated
    keys, independently of the two parts, so comparing ``output`` with
    :meth:`PromptSplit.combination` is a real check of the lemma.
    """
    if not isinstance(attn, Attention):
        raise TypeError(f"attn must be a ptheory.model.Attention, got {type(attn).__name__}")
    dtype = attn.W_Q.dtype
    P = check_finite(as_tensor(P, "P", dtype=dtype), "P")
    X = check_finite(as_tensor(X, "X", dtype=dtype), "X")
    check_matrix_batch(P, "P", rows=attn.d, layout="(..., d, L_p)")
    check_matrix_batch(X, "X", rows=attn.d, layout="(..., d, L)")
    if P.shape[-1] == 0:
        raise ValueError("P must have at least one column (L_p >= 1)")
    if X.shape[-1] == 0:
        raise ValueError("X must have at least one column (L >= 1)")
    if queries is None:
        queries = X
    queries = check_finite(as_tensor(queries, "queries", dtype=dtype), "queries")
    check_matrix_batch(queries, "queries", rows=attn.d, layout="(..., d, n_q)")

    batch = torch.broadcast_shapes(P.shape[:-2], X.shape[:-2])
    P = P.expand(*batch, *P.shape[-2:])
    X = X.expand(*batch, *X.shape[-2:])
    full = torch.cat([P, X], dim=-1)
    scores = attn.scores(queries, full)  # (..., heads, n, n_q)
    L_p = P.shape[-1]
    # lam = sum over prompt keys of softmax = exp(lse(prompt) - lse(all)), stable.
    total = torch.logsumexp(scores, dim=-2)
    return PromptSplit(
        output=attn.attend(queries, full),
        prompt_part=attn.attend(queries, P),
        input_part=attn.attend(queries, X),
        weight=torch.exp(torch.logsumexp(scores[..., :L_p, :], dim=-2) - total),
        input_weight=torch.exp(torch.logsumexp(scores[..., L_p:, :], dim=-2) - total),
    )


def segment_fit(
    output: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where ``output`` sits relative to the segment from ``b`` to ``a``.

    All three are ``(..., d, n_q)``, one point per column. Returns ``(t, distance)``:
    ``t = <o - b, a - b> / ||a - b||^2`` is the position along the line through ``b`` and
    ``a`` (``0`` at ``b``, ``1`` at ``a``), and ``distance`` is the Euclidean distance from
    ``o`` to the closed segment, divided by ``||a - b||`` so that it does not depend on the
    scale. The lemma predicts ``distance = 0`` and ``0 < t < 1``. Shapes ``(..., n_q)``.
    """
    o = as_tensor(output, "output")
    a = as_tensor(a, "a", dtype=o.dtype)
    b = as_tensor(b, "b", dtype=o.dtype)
    if not (o.shape == a.shape == b.shape):
        raise ValueError(
            f"output, a and b must have one shape, got {tuple(o.shape)}, "
            f"{tuple(a.shape)}, {tuple(b.shape)}"
        )
    check_matrix_batch(o, "output", layout="(..., d, n_q)")
    direction = a - b
    length2 = (direction * direction).sum(dim=-2)
    tiny = torch.finfo(o.dtype).tiny
    t = ((o - b) * direction).sum(dim=-2) / length2.clamp_min(tiny)
    nearest = b + t.clamp(0.0, 1.0).unsqueeze(-2) * direction
    distance = torch.linalg.vector_norm(o - nearest, dim=-2) / length2.clamp_min(tiny).sqrt()
    return t, distance


@dataclass(frozen=True)
class IdentityReport:
    """Worst cases of the segment lemma over many random draws.

    Attributes:
        n_draws: random (layer, prompt, input) triples drawn.
        n_queries: attention outputs checked (one per input column per draw).
        heads: heads of the attention layers.
        max_identity_error: ``max |Att(x,[P,X]) - (lam a + (1-lam) b)|`` (entries), single head
            only; ``None`` with several heads, where no single ``lam`` exists.
        max_segment_distance: largest distance of an output from its segment ``[b, a]``,
            relative to ``||a - b||``.
        min_weight, max_weight: range of ``lam`` over all heads and queries.
        min_input_weight: smallest ``1 - lam``, computed from the scores directly (see
            :attr:`PromptSplit.input_weight`), so it stays exact where ``lam`` rounds to 1.
        max_weight_mismatch: largest ``|t - lam|``, the position along the segment measured
            geometrically against the prompt's softmax mass (single head only, else ``None``).
    """

    n_draws: int
    n_queries: int
    heads: int
    max_identity_error: float | None
    max_segment_distance: float
    min_weight: float
    max_weight: float
    max_weight_mismatch: float | None
    min_input_weight: float = 1.0

    def __str__(self) -> str:
        def fmt(name: str, value: object) -> str:
            if not isinstance(value, float):
                return str(value)
            # Weights are shown in full: the point is that they never reach 0 or 1.
            return f"{value:.12g}" if name.endswith("_weight") else f"{value:.3g}"

        rows = [f"{name:>22}: {fmt(name, value)}" for name, value in vars(self).items()]
        return "\n".join([f"IdentityReport ({self.heads} head(s))", *rows])


def check_prompt_identity(
    n_draws: int = 2000,
    *,
    heads: int = 1,
    max_d: int = 6,
    max_length: int = 6,
    max_prompt_length: int = 8,
    prompt_scale: float = 2.0,
    weight: str = "mass",
    seed: int = 0,
) -> IdentityReport:
    """Check the segment lemma on ``n_draws`` random layers, prompts and inputs (float64).

    Each draw picks ``d``, ``L``, ``L_p``, the head size and the score scale at random,
    a random layer with ``heads`` heads, a prompt with entries ``N(0, prompt_scale^2)``
    and an input uniform in ``[0, 1]^{d x L}``, then compares the layer's output on
    ``[P, X]`` with the lemma's combination for every input column.

    ``weight="mass"`` combines with the lemma's weight, the prompt's share of the
    softmax mass; ``weight="count"`` with the prompt's share of the columns,
    ``L_p / (L_p + L)``: a wrong weight, for a control that the check rejects.
    """
    if weight not in ("mass", "count"):
        raise ValueError(f"weight must be 'mass' or 'count', got {weight!r}")
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    heads = check_int(heads, "heads", minimum=1)
    max_d = check_int(max_d, "max_d", minimum=1)
    max_length = check_int(max_length, "max_length", minimum=1)
    max_prompt_length = check_int(max_prompt_length, "max_prompt_length", minimum=1)
    prompt_scale = check_real(prompt_scale, "prompt_scale", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    with torch_threads(1):  # thousands of tiny products: threads only add overhead
        return _identity_report(n_draws, heads, max_d, max_length, max_prompt_length,
                                prompt_scale, weight, seed)  # fmt: skip


def _identity_report(
    n_draws: int,
    heads: int,
    max_d: int,
    max_length: int,
    max_prompt_length: int,
    prompt_scale: float,
    weight: str,
    seed: int,
) -> IdentityReport:
    gen = torch.Generator().manual_seed(seed)

    def pick(high: int) -> int:
        return int(torch.randint(1, high + 1, (1,), generator=gen))

    scales = ["1/d", "1/sqrt(d)", "none"]
    id_err, seg, mismatch = 0.0, 0.0, 0.0
    lam_min, lam_max, n_queries = 1.0, 0.0, 0
    rest_min = 1.0
    for i in range(n_draws):
        d, L, L_p = pick(max_d), pick(max_length), pick(max_prompt_length)
        attn = Attention(
            d, pick(max_d), heads=heads, scale=scales[i % 3], seed=seed * 1_000_003 + i
        )
        P = torch.randn(d, L_p, generator=gen, dtype=torch.float64) * prompt_scale
        X = torch.rand(d, L, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            split = prompt_split(attn, P, X)
        t, dist = segment_fit(split.output, split.prompt_part, split.input_part)
        seg = max(seg, float(dist.max()))
        lam_min = min(lam_min, float(split.weight.min()))
        lam_max = max(lam_max, float(split.weight.max()))
        rest_min = min(rest_min, float(split.input_weight.min()))
        n_queries += L
        if heads == 1:
            combined = split.combination()
            if weight == "count":
                w = L_p / (L_p + L)
                combined = w * split.prompt_part + (1 - w) * split.input_part
            id_err = max(id_err, float((split.output - combined).abs().max()))
            mismatch = max(mismatch, float((t - split.weight[0]).abs().max()))
    single = heads == 1
    return IdentityReport(
        n_draws=n_draws,
        n_queries=n_queries,
        heads=heads,
        max_identity_error=id_err if single else None,
        max_segment_distance=seg,
        min_weight=lam_min,
        max_weight=lam_max,
        max_weight_mismatch=mismatch if single else None,
        min_input_weight=rest_min,
    )


def prompt_weight_by_length(
    attn: Attention,
    X: torch.Tensor,
    lengths: list[int] | tuple[int, ...],
    *,
    n_prompts: int = 64,
    prompt_scale: float = 1.0,
    input_share: bool = False,
    seed: int = 0,
) -> torch.Tensor:
    """Samples of the prompt's softmax mass ``lam`` for random prompts of each length.

    For each ``L_p`` in ``lengths``, draws ``n_prompts`` prompts with entries
    ``N(0, prompt_scale^2)`` and returns ``lam`` for every prompt, input of
    ``X: (N, d, L)`` and input column: shape ``(len(lengths), n_prompts * N * L)``
    (single-head layers only). With ``input_share=True`` it returns ``1 - lam`` instead,
    computed without cancellation (see :attr:`PromptSplit.input_weight`).
    """
    if not isinstance(attn, Attention):
        raise TypeError(f"attn must be a ptheory.model.Attention, got {type(attn).__name__}")
    if attn.heads != 1:
        raise ValueError(f"attn must have a single head, got heads={attn.heads}")
    X = check_finite(as_tensor(X, "X", dtype=attn.W_Q.dtype), "X")
    check_matrix_batch(X, "X", ndim=3, rows=attn.d, layout="(N, d, L)")
    if not isinstance(lengths, (list, tuple)):
        raise TypeError(f"lengths must be a list or tuple of ints, got {type(lengths).__name__}")
    if len(lengths) == 0:
        raise ValueError("lengths must hold at least one prompt length")
    lengths = [check_int(n, "lengths", minimum=1) for n in lengths]
    n_prompts = check_int(n_prompts, "n_prompts", minimum=1)
    prompt_scale = check_real(prompt_scale, "prompt_scale", minimum=0.0)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    rows = []
    for L_p in lengths:
        P = torch.randn(n_prompts, 1, attn.d, L_p, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            split = prompt_split(attn, (P * prompt_scale).to(X.dtype), X.unsqueeze(0))
        rows.append((split.input_weight if input_share else split.weight).reshape(-1))
    return torch.stack(rows)
