"""Soft prompts, LoRA and one tuned layer on the frozen pretrained encoder: memorization.

The comparison of the chapter ``real_soft_prompts`` (its sweep is
:mod:`ptheory.real.sweep`; the ray dataset is in :mod:`ptheory.real.rays`).

The task (:func:`memorization_task`): ``N`` sequences ``[CLS] w_1 .. w_W [SEP]`` of random
whole words, and a **fixed** random readout ``R: (k, d)`` applied to every output column
of the input (``columns="all"``, the book's ``tau_P(X)``) or to ``[CLS]`` alone
(``columns="cls"``). The targets are the untuned outputs plus Gaussian noise, ``y = f +
scale * std(f) * z``: every output is asked to move to its own random place, ``N T k``
numbers in all (``T = W + 2``; ``N k`` for ``"cls"``). The loss is relative: 1 for the
untuned model, 0 for a perfect fit.

The methods (:data:`METHODS`, every one read out through the same ``R``):

- ``"prompt"``: a soft prompt of ``L_p`` tokens at the book's ``"input"`` placement
  (``L_p d`` parameters), started at random whole words;
- ``"prefix"``: a prefix of ``L_p`` tokens, keys and values at every layer
  (``2 layers d L_p``), started at random words' keys and values;
- ``"lora_first"``, ``"lora"``: LoRA (``peft``'s ``LoraConfig``, rank ``r``,
  ``lora_alpha = r`` so the update is ``B A``, no dropout) on the attention query and value
  of the first layer, or of every layer (``2 r (d + d)`` parameters a layer); ``peft``
  starts ``B = 0`` (the untuned model) and ``A`` at random;
- ``"layer"``: every weight of the last layer (its inputs computed once), started at the
  pretrained weights.

:func:`tune` runs one method on one task with one optimiser: L-BFGS (full batch, strong
Wolfe line search; the same for every method, and far closer to convergence than Adam
within a budget of function evaluations) or Adam at a given rate. Every run is on one
CPU thread (small tensors, many steps: a second thread mostly waits).

States follow ``transformers``, ``(N, n, d)``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import as_tensor, check_int, check_real
from ..model import torch_threads
from .loader import Encoder, check_encoder
from .prompted import Prefix, encode, word_ids, word_prefix, word_prompt

__all__ = [
    "METHODS",
    "MemorizationTask",
    "TuneResult",
    "memorization_task",
    "method_parameters",
    "tune",
]

_LAST: list[Any] = []
"""The last run's trainable tensors and its outputs function (for the sweep's Jacobians)."""

METHODS = ("prompt", "prefix", "lora_first", "lora", "layer")
"""The methods of :func:`tune` (see the module docstring)."""

COLUMNS = ("all", "cls")
OPTIMIZERS = ("lbfgs", "adam")


@dataclass(frozen=True)
class MemorizationTask:
    """``N`` random token sequences with random targets, read out by a fixed ``R``.

    Attributes:
        ids: ``(N, T)`` token ids ``[CLS] w_1 .. w_W [SEP]``, ``T = W + 2``.
        readout: the fixed readout ``R: (k, d)``.
        columns: ``"all"`` (every output column of the input is read out) or ``"cls"``.
        frozen: the untuned model's outputs ``(N, T, k)`` (``(N, 1, k)`` for ``"cls"``).
        targets: same shape, ``frozen + scale * std(frozen) * z``, ``z`` standard normal.
        seed: the seed that drew the task.
    """

    ids: torch.Tensor
    readout: torch.Tensor
    columns: str
    frozen: torch.Tensor
    targets: torch.Tensor
    seed: int

    @property
    def n(self) -> int:
        """The number of sequences ``N``."""
        return int(self.ids.shape[0])

    @property
    def size(self) -> int:
        """The number of target numbers, ``N T k`` (``N k`` for ``"cls"``)."""
        return int(self.targets.numel())

    def read(self, hidden: torch.Tensor) -> torch.Tensor:
        """The outputs ``(N, T, k)`` (or ``(N, 1, k)``) of the input's final states
        ``hidden: (N, T, d)``."""
        cols = hidden if self.columns == "all" else hidden[:, :1]
        return cols @ self.readout.T.to(hidden.dtype)

    def relative_loss(self, outputs: torch.Tensor) -> torch.Tensor:
        """``||outputs - y||^2 / ||frozen - y||^2``: 1 for the untuned model, 0 for a
        perfect fit. ``outputs`` of the targets' shape."""
        outputs = as_tensor(outputs, "outputs")
        if outputs.shape != self.targets.shape:
            raise ValueError(
                f"outputs must have shape {tuple(self.targets.shape)}, got {tuple(outputs.shape)}"
            )
        y = self.targets.to(outputs.dtype)
        return (outputs - y).pow(2).sum() / (self.frozen.to(outputs.dtype) - y).pow(2).sum()


def memorization_task(
    enc: Encoder,
    n: int,
    seed: int = 0,
    *,
    words: int = 2,
    outputs: int = 192,
    columns: str = "all",
    scale: float = 0.25,
) -> MemorizationTask:
    """Draw ``n`` sequences of ``words`` random whole words (:func:`~ptheory.real.word_ids`),
    a readout ``R: (outputs, d)`` with entries ``N(0, 1/d)``, and the targets
    ``y = f + scale * s * z`` with ``f`` the untuned outputs, ``s`` the standard deviation of
    their entries and ``z`` standard normal, all from ``seed``."""
    enc = check_encoder(enc)
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    words = check_int(words, "words", minimum=1)
    outputs = check_int(outputs, "outputs", minimum=1)
    if columns not in COLUMNS:
        raise ValueError(f"columns must be one of {COLUMNS}, got {columns!r}")
    scale = check_real(scale, "scale", minimum=0.0, strict_minimum=True)
    ids = word_ids(enc, n, words + 2, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    readout = torch.randn(outputs, enc.d, generator=gen) / math.sqrt(enc.d)
    task = MemorizationTask(ids, readout, columns, torch.empty(0), torch.empty(0), seed)
    with torch.no_grad():
        frozen = task.read(encode(enc, ids).outputs)
    z = torch.randn(frozen.shape, generator=gen).to(frozen)
    spread = float(frozen.std()) if frozen.numel() > 1 else 1.0
    return MemorizationTask(ids, readout, columns, frozen, frozen + scale * spread * z, seed)


def method_parameters(enc: Encoder, method: str, size: int | None) -> int:
    """The number of trainable parameters of ``method`` of ``size`` (prompt or prefix
    length, LoRA rank; ignored for ``"layer"``)."""
    enc = check_encoder(enc)
    method = _check_method(method)
    if method == "layer":
        return sum(p.numel() for p in enc.model.encoder.layer[-1].parameters())
    size = check_int(size, "size", minimum=1)
    per_layer = 2 * size * 2 * enc.d  # query and value, A: (r, d) and B: (d, r)
    return {
        "prompt": size * enc.d,
        "prefix": 2 * enc.layers * enc.d * size,
        "lora_first": per_layer,
        "lora": enc.layers * per_layer,
    }[method]


@dataclass(frozen=True)
class TuneResult:
    """One tuning run.

    Attributes:
        method, size: the method and its size (``None`` for ``"layer"``).
        parameters: the number of trainable parameters.
        n: the task's number of sequences; ``targets``: its number of target numbers.
        task_seed, init_seed: the task's seed and the method's initialisation seed.
        optimizer: ``"lbfgs"`` or ``"adam"``.
        curve: the relative loss at every function evaluation (L-BFGS) or before each step
            and after the last (Adam), float64.
    """

    method: str
    size: int | None
    parameters: int
    n: int
    targets: int
    task_seed: int
    init_seed: int
    optimizer: str
    curve: torch.Tensor

    @property
    def loss(self) -> float:
        """The lowest relative loss of the run (L-BFGS evaluates trial points)."""
        return float(self.curve.min())


def _check_method(method: object) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return str(method)


def _check_task(task: object) -> MemorizationTask:
    if not isinstance(task, MemorizationTask):
        raise TypeError(f"task must be a MemorizationTask, got {type(task).__name__}")
    return task


def _setup(
    enc: Encoder, task: MemorizationTask, method: str, size: int | None, init: int
) -> tuple[list[torch.Tensor], Any]:
    """The trainable tensors of a method and the function of them that gives the task's
    outputs (the loss is the task's relative loss of these outputs)."""
    ids = task.ids
    if method in ("prompt", "prefix"):
        size = check_int(size, "size", minimum=1)
        if method == "prompt":
            P = word_prompt(enc, size, seed=init).clone().requires_grad_(True)

            def outputs() -> torch.Tensor:
                return task.read(encode(enc, ids, P).outputs)

            return [P], outputs
        start = word_prefix(enc, size, seed=init)
        k, v = (t.clone().requires_grad_(True) for t in (start.keys, start.values))

        def outputs() -> torch.Tensor:
            return task.read(encode(enc, ids, Prefix(k, v), placement="prefix").outputs)

        return [k, v], outputs
    if method in ("lora", "lora_first"):
        from peft import LoraConfig, get_peft_model

        size = check_int(size, "size", minimum=1)
        config = LoraConfig(
            r=size,
            lora_alpha=size,
            lora_dropout=0.0,
            target_modules=["query", "value"],
            layers_to_transform=[0] if method == "lora_first" else None,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init)
            tuned = get_peft_model(copy.deepcopy(enc.model), config)
        blocks = list(tuned.base_model.model.encoder.layer)
        params = [p for p in tuned.parameters() if p.requires_grad]

        def outputs() -> torch.Tensor:
            return task.read(encode(enc, ids, blocks=blocks).outputs)

        return params, outputs
    # one layer, the last: its inputs are computed once
    with torch.no_grad():
        below = encode(enc, ids, layers=enc.layers - 1).hidden
    tuned = copy.deepcopy(enc.model.encoder.layer[-1])
    for p in tuned.parameters():
        p.requires_grad_(True)
    blocks = [*list(enc.model.encoder.layer[:-1]), tuned]
    from .prompted import _layer

    additive = torch.zeros(ids.shape[0], ids.shape[1], ids.shape[1], dtype=below.dtype)

    def outputs() -> torch.Tensor:
        return task.read(_layer(enc, blocks[-1], below, additive, None, {}, None, 0, None))

    return list(tuned.parameters()), outputs


def tune(
    enc: Encoder,
    task: MemorizationTask,
    method: str,
    size: int | None = None,
    *,
    init: int = 0,
    optimizer: str = "lbfgs",
    steps: int = 500,
    lr: float | None = None,
) -> TuneResult:
    """Tune ``method`` of ``size`` on ``task`` from initialisation seed ``init``:
    ``optimizer="lbfgs"`` for at most ``steps`` function evaluations (history 20, strong
    Wolfe line search), or ``"adam"`` for ``steps`` steps at rate ``lr``. The model itself
    is never changed (LoRA and the layer work on copies). One CPU thread."""
    enc, task = check_encoder(enc), _check_task(task)
    method = _check_method(method)
    init = check_int(init, "init", minimum=0)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    steps = check_int(steps, "steps", minimum=1)
    if optimizer == "adam":
        lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
    elif lr is not None:
        raise ValueError("lr must be None for L-BFGS (its line search sets the step)")
    with torch_threads(1):
        params, outputs = _setup(enc, task, method, size, init)

        def loss() -> torch.Tensor:
            return task.relative_loss(outputs())

        curve: list[float] = []
        if optimizer == "lbfgs":
            opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, max_eval=steps,
                                    history_size=20, line_search_fn="strong_wolfe",
                                    tolerance_grad=0.0, tolerance_change=0.0)  # fmt: skip

            def closure() -> torch.Tensor:
                opt.zero_grad()
                value = loss()
                value.backward()
                curve.append(float(value.detach()))
                return value

            opt.step(closure)
        else:
            opt = torch.optim.Adam(params, lr=lr)
            for _ in range(steps):
                opt.zero_grad()
                value = loss()
                curve.append(float(value.detach()))
                value.backward()
                opt.step()
            with torch.no_grad():
                curve.append(float(loss()))
    _LAST.clear()
    _LAST.extend([params, outputs])
    size_out = None if method == "layer" else size
    count = sum(p.numel() for p in params)
    return TuneResult(method, size_out, count, task.n, task.size, task.seed, init, optimizer,
                      torch.tensor(curve, dtype=torch.float64))  # fmt: skip
