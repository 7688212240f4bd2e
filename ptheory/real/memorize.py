"""Soft prompts, LoRA and one tuned layer on the frozen pretrained encoder.

The memorization experiment of the chapter ``real_soft_prompts`` (its ray dataset is in
:mod:`ptheory.real.rays`). :func:`memorization_task` draws ``N`` short random token
sequences ``[CLS] w_1 ... w_L [SEP]`` and random targets; every method is read out through
the same fixed linear map of the final ``[CLS]`` state, so only the tuned parameters
differ. :func:`tune_soft_prompt` (a soft prompt), :func:`tune_lora` (``peft``'s LoRA on the
attention query and value of every layer, or of the first) and :func:`tune_layer` (every
weight of one layer) run the same Adam for the same number of steps and report the loss at
each step; :func:`choose_lr` and :func:`compare_methods` run the chapter's comparison.

Where the prompt goes. A prompt ``P: (L_p, d)`` is a block of ``L_p`` free vectors
inserted among the **first layer's inputs** (after the embedding LayerNorm), right after
``[CLS]``; the input tokens keep the position embeddings they have without a prompt
(positions ``0 .. T-1``), and the prompt gets none (a free vector would absorb it).
BERT's attention has no mask here and is permutation-equivariant once the position
embeddings are added, so the block's place in the sequence does not matter: this is
exactly the book's ``[P, X]``, with ``X`` the frozen input columns.

Layouts follow ``transformers``: states are ``(N, T, d)``, one row per token (the book's
other parts use columns).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import as_tensor, check_finite, check_int, check_real
from .loader import Encoder

__all__ = [
    "METHODS",
    "MemorizationTask",
    "TuneResult",
    "choose_lr",
    "compare_methods",
    "input_states",
    "memorization_task",
    "prompted_states",
    "tune",
    "tune_layer",
    "tune_lora",
    "tune_prompts",
    "tune_soft_prompt",
    "word_embeddings",
]


def _check_encoder(enc: object) -> Encoder:
    if not isinstance(enc, Encoder):
        raise TypeError(f"enc must be a ptheory.real.Encoder, got {type(enc).__name__}")
    return enc


def _special_ids(enc: Encoder) -> tuple[int, int, int]:
    """``[CLS]`` and ``[SEP]`` ids and the first id of an ordinary word."""
    if enc.tokenizer is not None:
        cls, sep = enc.tokenizer.cls_token_id, enc.tokenizer.sep_token_id
        return int(cls), int(sep), 1000  # ids below 1000: [PAD], [unused..], specials
    return 1, 2, 3


def _device(enc: Encoder) -> torch.device:
    return next(enc.model.parameters()).device


def input_states(enc: Encoder, ids: torch.Tensor) -> torch.Tensor:
    """The first layer's inputs ``(N, T, d)`` for token ids ``(N, T)``: word, position and
    type embeddings, after the embedding LayerNorm (frozen, no gradient)."""
    enc = _check_encoder(enc)
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.dim() != 2:
        raise TypeError(f"ids must be a (N, T) tensor of token ids (int64), got {ids!r:.60}")
    if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= enc.vocab_size:
        raise ValueError(f"ids must be non-empty token ids in [0, {enc.vocab_size})")
    with torch.no_grad():
        return enc.model.embeddings(input_ids=ids.to(_device(enc)))


def word_embeddings(enc: Encoder, count: int, seed: int = 0) -> torch.Tensor:
    """``(count, d)`` first-layer vectors of random ordinary words without a position
    (``LayerNorm(word + type)``): the starting point of a soft prompt."""
    enc = _check_encoder(enc)
    count = check_int(count, "count", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    _, _, first = _special_ids(enc)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(first, enc.vocab_size, (count,), generator=gen).to(_device(enc))
    emb = enc.model.embeddings
    with torch.no_grad():
        return emb.LayerNorm(emb.word_embeddings(ids) + emb.token_type_embeddings.weight[0])


def _check_prompt(enc: Encoder, P: object) -> torch.Tensor:
    P = check_finite(as_tensor(P, "P"), "P")
    if P.dim() != 2 or P.shape[1] != enc.d:
        raise ValueError(f"P must have shape (L_p, d) with d = {enc.d}, got {tuple(P.shape)}")
    return P


def _check_states(enc: Encoder, states: object, name: str = "states") -> torch.Tensor:
    states = check_finite(as_tensor(states, name), name)
    if states.dim() != 3 or states.shape[2] != enc.d or states.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (N, T, d) with d = {enc.d}, got {tuple(states.shape)}"
        )
    return states


def _insert(states: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
    """``[CLS], block_i, rest`` for every example: ``block: (N, L_p, d)``."""
    return torch.cat([states[:, :1], block.to(states.dtype), states[:, 1:]], dim=1)


def _with_prompt(states: torch.Tensor, P: torch.Tensor | None) -> torch.Tensor:
    """``[CLS], P, rest``: the prompt block right after ``[CLS]``."""
    if P is None or P.shape[0] == 0:
        return states
    return _insert(states, P[None].expand(states.shape[0], -1, -1))


def _encode(blocks: Any, h: torch.Tensor) -> torch.Tensor:
    """Run the layers ``blocks`` on ``h: (N, T, d)``."""
    for block in blocks:
        h = _run(block, h)
    return h


def _without_prompt(hidden: torch.Tensor, P: torch.Tensor | None) -> torch.Tensor:
    k = 0 if P is None else P.shape[0]
    return torch.cat([hidden[:, :1], hidden[:, 1 + k :]], dim=1)


def _run(block: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    """One ``transformers`` layer (it returns a tuple in 4.57; a tensor in later versions)."""
    out = block(h)
    return out[0] if isinstance(out, tuple) else out


def prompted_states(
    enc: Encoder,
    states: torch.Tensor,
    P: torch.Tensor | None = None,
    *,
    layers: int | None = None,
    encoder: torch.nn.Module | None = None,
) -> torch.Tensor:
    """The input tokens' states ``(N, T, d)`` after ``layers`` layers (default: all) of the
    frozen model, with the prompt ``P: (L_p, d)`` among the first layer's inputs (right
    after ``[CLS]``; ``None``: no prompt). ``states: (N, T, d)`` from
    :func:`input_states`. ``encoder`` replaces ``enc.model.encoder`` (a LoRA copy)."""
    enc = _check_encoder(enc)
    states = _check_states(enc, states)
    if P is not None:
        P = _check_prompt(enc, P)
    layers = enc.layers if layers is None else check_int(layers, "layers", minimum=1)
    if layers > enc.layers:
        raise ValueError(f"layers must be at most {enc.layers}, got {layers}")
    blocks = (encoder if encoder is not None else enc.model.encoder).layer[:layers]
    return _without_prompt(_encode(blocks, _with_prompt(states, P)), P)


# ------------------------------------------------------------------ memorization
@dataclass(frozen=True)
class MemorizationTask:
    """``N`` random token sequences with random targets, read out at ``[CLS]``.

    Attributes:
        ids: ``(N, T)`` token ids ``[CLS] w_1 .. w_L [SEP]``, ``T = L + 2``.
        states: the first layer's inputs ``(N, T, d)`` (cached: frozen).
        readout: the fixed readout ``R: (k, d)``; the output of a model is
            ``R h_CLS`` with ``h_CLS`` the final ``[CLS]`` state.
        frozen: the untuned model's outputs ``(N, k)``.
        targets: ``(N, k)``, ``frozen + scale * z`` with ``z`` standard normal.
        seed: the seed that drew the task.
    """

    ids: torch.Tensor
    states: torch.Tensor
    readout: torch.Tensor
    frozen: torch.Tensor
    targets: torch.Tensor
    seed: int

    @property
    def n(self) -> int:
        """The number of sequences ``N``."""
        return int(self.ids.shape[0])

    def relative_loss(self, outputs: torch.Tensor) -> torch.Tensor:
        """``sum_i ||outputs_i - y_i||^2 / sum_i ||frozen_i - y_i||^2``: 1 for the
        untuned model, 0 for a perfect fit. ``outputs: (N, k)``."""
        outputs = as_tensor(outputs, "outputs")
        if outputs.shape != self.targets.shape:
            raise ValueError(
                f"outputs must have shape {tuple(self.targets.shape)}, got {tuple(outputs.shape)}"
            )
        y = self.targets.to(outputs.dtype)
        return (outputs - y).pow(2).sum() / (self.frozen.to(outputs.dtype) - y).pow(2).sum()


def memorization_task(
    enc: Encoder, n: int, seed: int = 0, *, length: int = 4, outputs: int = 8
) -> MemorizationTask:
    """Draw ``n`` sequences of ``length`` random ordinary words, a readout ``R: (outputs,
    d)`` with entries ``N(0, 1/d)``, and targets ``y_i = f_i + s z_i`` where ``f_i`` is
    the untuned output, ``z_i`` standard normal and ``s`` the standard deviation of the
    untuned outputs' entries (so the targets are as spread as the outputs)."""
    enc = _check_encoder(enc)
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    length = check_int(length, "length", minimum=1)
    outputs = check_int(outputs, "outputs", minimum=1)
    cls, sep, first = _special_ids(enc)
    gen = torch.Generator().manual_seed(seed)
    words = torch.randint(first, enc.vocab_size, (n, length), generator=gen)
    ids = torch.cat([torch.full((n, 1), cls), words, torch.full((n, 1), sep)], dim=1)
    readout = torch.randn(outputs, enc.d, generator=gen) / math.sqrt(enc.d)
    z = torch.randn(n, outputs, generator=gen)
    states = input_states(enc, ids)
    readout = readout.to(states.device)
    with torch.no_grad():
        frozen = prompted_states(enc, states)[:, 0] @ readout.T
    scale = float(frozen.std()) if frozen.numel() > 1 else 1.0
    targets = frozen + scale * z.to(frozen.device)
    return MemorizationTask(ids, states, readout, frozen, targets, seed)


@dataclass(frozen=True)
class TuneResult:
    """One tuning run on a :class:`MemorizationTask`.

    Attributes:
        method: ``"prompt"``, ``"lora"`` or ``"layer"``.
        size: the prompt length, the LoRA rank, or the tuned layer's index (from 0).
        parameters: the number of trainable parameters.
        n: the task's number of sequences.
        seed: the task's seed (also the seed of the method's initialisation).
        curve: the relative loss before each of the ``steps`` updates and after the
            last, ``(steps + 1,)``.
    """

    method: str
    size: int
    parameters: int
    n: int
    seed: int
    curve: torch.Tensor

    @property
    def loss(self) -> float:
        """The relative loss after the last step."""
        return float(self.curve[-1])


def _check_task(task: object) -> MemorizationTask:
    if not isinstance(task, MemorizationTask):
        raise TypeError(f"task must be a MemorizationTask, got {type(task).__name__}")
    return task


def _adam(params: list, loss_fn: Any, steps: int, lr: float | None = None) -> torch.Tensor:
    """``steps`` Adam steps on ``loss_fn()``: ``params`` are tensors (rate ``lr``) or Adam's
    parameter groups (``lr=None``, each group with its rate); ``loss_fn()`` is one loss or
    one per run (the step follows their sum). Returns the losses before each step and
    after the last, float64: ``(steps + 1,)`` or ``(steps + 1, runs)``."""
    opt = torch.optim.Adam(params) if lr is None else torch.optim.Adam(params, lr=lr)
    curve = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        curve.append(loss.detach())
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        curve.append(loss_fn().detach())
    return torch.stack(curve).double().cpu()


def _steps_lr(steps: object, lr: object) -> tuple[int, float]:
    return check_int(steps, "steps", minimum=0), check_real(
        lr, "lr", minimum=0.0, strict_minimum=True
    )


def tune_soft_prompt(
    enc: Encoder, task: MemorizationTask, prompt_length: int, *, steps: int = 20, lr: float = 0.1
) -> TuneResult:
    """Tune a soft prompt of ``prompt_length`` tokens (``prompt_length * d`` parameters),
    started at :func:`word_embeddings` (seed: the task's), by ``steps`` Adam steps."""
    return tune_prompts(enc, [task], prompt_length, steps=steps, lr=[lr])[0]


def tune_prompts(
    enc: Encoder,
    tasks: Sequence[MemorizationTask],
    prompt_length: int,
    *,
    steps: int = 20,
    lr: Sequence[float],
) -> list[TuneResult]:
    """:func:`tune_soft_prompt` for every task of ``tasks`` (all with the same sequence length),
    task ``t`` at rate ``lr[t]``, in one batch: one forward pass per step for all. The
    prompts are separate parameters and Adam updates each entry on its own, so every run
    follows the trajectory it would follow alone (up to rounding)."""
    enc = _check_encoder(enc)
    if not isinstance(tasks, Sequence) or not tasks:
        raise TypeError(f"tasks must be a non-empty list of MemorizationTask, got {tasks!r:.60}")
    tasks = [_check_task(t) for t in tasks]
    if len({t.ids.shape[1] for t in tasks}) != 1:
        raise ValueError("tasks must all have sequences of the same length")
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    if not isinstance(lr, Sequence) or len(lr) != len(tasks):
        raise TypeError(f"lr must be a list of {len(tasks)} rates, one per task")
    rates = [check_real(r, "lr", minimum=0.0, strict_minimum=True) for r in lr]
    prompts = [
        word_embeddings(enc, prompt_length, t.seed).clone().requires_grad_(True) for t in tasks
    ]
    states = torch.cat([t.states for t in tasks])
    cuts = torch.tensor([0] + [t.n for t in tasks]).cumsum(0).tolist()
    groups = [{"params": [P], "lr": r} for P, r in zip(prompts, rates, strict=True)]

    def losses() -> torch.Tensor:
        block = torch.cat(
            [P[None].expand(t.n, -1, -1) for P, t in zip(prompts, tasks, strict=True)]
        )
        h = _encode(enc.model.encoder.layer, _insert(states, block))[:, 0]
        return torch.stack(
            [
                t.relative_loss(h[a:b] @ t.readout.T)
                for t, a, b in zip(tasks, cuts[:-1], cuts[1:], strict=True)
            ]
        )

    curve = _adam(groups, losses, steps)  # (steps + 1, tasks)
    return [
        TuneResult("prompt", prompt_length, P.numel(), t.n, t.seed, curve[:, i])
        for i, (P, t) in enumerate(zip(prompts, tasks, strict=True))
    ]


def tune_lora(
    enc: Encoder,
    task: MemorizationTask,
    rank: int,
    *,
    steps: int = 20,
    lr: float = 0.01,
    first_only: bool = False,
) -> TuneResult:
    """Tune LoRA (``peft``; ``lora_alpha = 1``, so the update is ``B A / rank``; no
    dropout) on the query and value matrices of every layer (``first_only``: of the
    first layer only) of a copy of the model, by ``steps`` Adam steps:
    ``2 * rank * 2d`` parameters per layer. ``peft`` starts ``B = 0`` (the untuned model)
    and ``A`` at random (seed: the task's). The result's method is ``"lora"`` or
    ``"lora_first"``."""
    enc, task = _check_encoder(enc), _check_task(task)
    rank = check_int(rank, "rank", minimum=1)
    steps, lr = _steps_lr(steps, lr)
    if not isinstance(first_only, bool):
        raise TypeError(f"first_only must be a bool, got {type(first_only).__name__}")
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=1,
        lora_dropout=0.0,
        target_modules=["query", "value"],
        layers_to_transform=[0] if first_only else None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(task.seed)
        tuned = get_peft_model(copy.deepcopy(enc.model), config)
    params = [p for p in tuned.parameters() if p.requires_grad]
    encoder = tuned.base_model.model.encoder

    def loss() -> torch.Tensor:
        h = prompted_states(enc, task.states, encoder=encoder)
        return task.relative_loss(h[:, 0] @ task.readout.T)

    curve = _adam(params, loss, steps, lr)
    count = sum(p.numel() for p in params)
    method = "lora_first" if first_only else "lora"
    return TuneResult(method, rank, count, task.n, task.seed, curve)


def tune_layer(
    enc: Encoder,
    task: MemorizationTask,
    layer: int | None = None,
    *,
    steps: int = 20,
    lr: float = 1e-4,
) -> TuneResult:
    """Tune every weight of one layer (default: the last) of a copy of it, by ``steps``
    Adam steps; the frozen states below it are computed once."""
    enc, task = _check_encoder(enc), _check_task(task)
    layer = enc.layers - 1 if layer is None else check_int(layer, "layer", minimum=0)
    if layer >= enc.layers:
        raise ValueError(f"layer must be below {enc.layers}, got {layer}")
    steps, lr = _steps_lr(steps, lr)
    with torch.no_grad():
        below = task.states
        for block in enc.model.encoder.layer[:layer]:
            below = _run(block, below)
    tuned = copy.deepcopy(enc.model.encoder.layer[layer])
    for p in tuned.parameters():
        p.requires_grad_(True)
    above = enc.model.encoder.layer[layer + 1 :]

    def loss() -> torch.Tensor:
        h = _run(tuned, below)
        for block in above:
            h = _run(block, h)
        return task.relative_loss(h[:, 0] @ task.readout.T)

    params = list(tuned.parameters())
    curve = _adam(params, loss, steps, lr)
    return TuneResult("layer", layer, sum(p.numel() for p in params), task.n, task.seed, curve)


METHODS = ("prompt", "lora_first", "lora", "layer")
"""The methods of :func:`tune`: a soft prompt, LoRA on the first layer, LoRA on every
layer, one tuned layer."""


def tune(
    enc: Encoder,
    task: MemorizationTask,
    method: str,
    size: int | None,
    *,
    steps: int,
    lr: float,
) -> TuneResult:
    """Run one method: ``"prompt"`` (``size`` = prompt length), ``"lora_first"`` or
    ``"lora"`` (``size`` = rank; the first layer, or every layer) or ``"layer"``
    (``size`` = layer index, ``None``: the last)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "prompt":
        return tune_soft_prompt(enc, task, size, steps=steps, lr=lr)  # type: ignore[arg-type]
    if method in ("lora", "lora_first"):
        first = method == "lora_first"
        return tune_lora(enc, task, size, steps=steps, lr=lr, first_only=first)  # type: ignore[arg-type]
    return tune_layer(enc, task, size, steps=steps, lr=lr)


def choose_lr(
    enc: Encoder,
    task: MemorizationTask,
    method: str,
    size: int | None,
    grid: Sequence[float],
    *,
    steps: int,
) -> float:
    """The rate of ``grid`` with the smallest final relative loss of ``method`` on
    ``task`` (ties: the first)."""
    if not isinstance(grid, Sequence) or isinstance(grid, str) or not grid:
        raise TypeError(f"grid must be a non-empty list of rates, got {grid!r:.60}")
    rates = [check_real(r, "grid", minimum=0.0, strict_minimum=True) for r in grid]
    if method == "prompt":  # one batch for every rate
        runs = tune_prompts(enc, [task] * len(rates), size, steps=steps, lr=rates)  # type: ignore[arg-type]
        losses = [r.loss for r in runs]
    else:
        losses = [tune(enc, task, method, size, steps=steps, lr=r).loss for r in rates]
    return rates[min(range(len(rates)), key=lambda i: (losses[i], i))]


def compare_methods(
    enc: Encoder,
    ns: Sequence[int],
    seeds: Sequence[int],
    runs: Sequence[tuple[str, int | None]],
    lrs: dict[str, float],
    *,
    steps: int,
    length: int = 4,
    outputs: int = 8,
) -> list[TuneResult]:
    """Every run ``(method, size)`` of ``runs`` on the task of every ``N`` in ``ns`` and
    every seed in ``seeds`` (one task per ``(N, seed)``, shared by all runs), each method
    at its rate ``lrs[method]``, all for ``steps`` Adam steps. Prompt runs of one length
    share their forward passes (:func:`tune_prompts`)."""
    ns = _ints(ns, "ns")
    seeds = _ints(seeds, "seeds", minimum=0)
    if not isinstance(runs, Sequence) or not runs:
        raise TypeError(f"runs must be a non-empty list of (method, size), got {runs!r:.60}")
    if not isinstance(lrs, dict):
        raise TypeError(f"lrs must be a dict of rates by method, got {type(lrs).__name__}")
    for method, _ in runs:
        if method not in lrs:
            raise ValueError(f"lrs must give a rate for {method!r}")
    tasks = [
        memorization_task(enc, n, seed, length=length, outputs=outputs)
        for n in ns
        for seed in seeds
    ]
    out = []
    for method, size in runs:
        if method == "prompt":  # one batch for every task
            rates = [lrs[method]] * len(tasks)
            out += tune_prompts(enc, tasks, size, steps=steps, lr=rates)  # type: ignore[arg-type]
        else:
            out += [tune(enc, t, method, size, steps=steps, lr=lrs[method]) for t in tasks]
    return out


def _ints(values: object, name: str, minimum: int = 1) -> list[int]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise TypeError(f"{name} must be a non-empty list of ints, got {values!r:.60}")
    return [check_int(v, name, minimum=minimum) for v in values]
