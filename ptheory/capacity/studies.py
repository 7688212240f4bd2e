"""Seed studies of the single-layer limitation: when longer prompts help, and the ray bound's
slack. Each record is computed from one seed's model and unmemorizable dataset, so a chapter
can assert a claim on many seeds with one call."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int
from ..model import prompt_forward
from .engine import fit_loss, prompt_tune
from .entropy import reachable_loss, reachable_prompt
from .rays import ff_contraction, ray_bound, single_layer_model, unmemorizable_dataset

__all__ = ["LengthStudy", "length_study"]


@dataclass(frozen=True)
class LengthStudy:
    """Prompt length against loss on ``single_layer_model(d, seed)`` and its dataset.

    Attributes:
        seed: the seed of the model and the dataset.
        lengths: the prompt lengths tried.
        tuned: best prompt-tuning loss at each length (batched engine, L-BFGS).
        reduced: best loss over the pairs a prompt of each length reaches (entropy identity,
            a ``d + 1``-dimensional search), then over every length.
        entropy_any: the prompt entropy ``h`` at the best pair over every length; ``0``
            means one token reaches it, and ``exp(h)`` is the length it asks for.
        built: the model's loss on the prompt that :func:`reachable_prompt` builds from the
            best pair of each length (a prompt of that length, evaluated by the model): an
            independent check that the reduction is exact.
        bounds: the certified ray bound restricted to the pairs each length reaches.
        bound: the certified ray bound for every prompt of any length.
        estimate: the relaxation's value at its best grid point (upper estimate).
        kappa: ``||W_2|| ||W_1||`` of the feed-forward layer.
    """

    seed: int
    lengths: list[int]
    tuned: list[float]
    reduced: list[float]
    entropy_any: float
    built: list[float]
    bounds: list[float]
    bound: float
    estimate: float
    kappa: float

    @property
    def gain(self) -> float:
        """Relative gain of the best built prompt longer than one token over the best
        one-token loss, ``(reduced[0] - min(built[1:])) / reduced[0]`` (``0`` when only one
        length was tried); positive when a longer prompt does better."""
        if len(self.built) < 2:
            return 0.0
        return (self.reduced[0] - min(self.built[1:])) / self.reduced[0]

    @property
    def upper(self) -> float:
        """``(1 + kappa)^2 / (1 - kappa)^2`` times the estimate over reachable pairs: a value
        some prompt gets below (or arbitrarily close to), so the best loss over all prompts
        lies between :attr:`bound` and this."""
        return (1 + self.kappa) ** 2 / (1 - self.kappa) ** 2 * self.estimate


def length_study(
    seed: int,
    lengths: Sequence[int] = (1, 4, 16, 64),
    *,
    d: int = 3,
    restarts: int = 4,
    steps: int = 80,
) -> LengthStudy:
    """Run the study for one seed (see :class:`LengthStudy`); ``lengths`` increasing."""
    seed = check_int(seed, "seed", minimum=0)
    lengths = [check_int(n, "lengths", minimum=1) for n in lengths]
    if not lengths or lengths != sorted(set(lengths)):
        raise ValueError(f"lengths must be a non-empty increasing sequence, got {lengths}")
    model = single_layer_model(d=d, seed=seed)
    X, Y = unmemorizable_dataset(model, seed=seed)
    tuned = prompt_tune(model, X, Y, lengths, steps=steps, restarts=restarts).loss_by_length()
    # the reachable-pair search, every length chained from the previous one's optimum; 32
    # starts, because the one-token problem has several local minima
    chain = reachable_loss(model, X, Y, [*lengths, None], restarts=32, steps=200, with_point=True)
    built = []
    for n, (_, h, a) in zip(lengths, chain, strict=False):
        h = 0.0 if n == 1 else min(max(h, 1e-9), math.log(n))
        P = reachable_prompt(model, X[0, :, -1], a, h, n)
        with torch.no_grad():
            built.append(float(fit_loss(prompt_forward(model, P, X), Y)))
    reduced = [v for v, _, _ in chain]
    any_length = ray_bound(model, X, Y, reachable=True, cells=5000)
    bounds = [
        ray_bound(model, X, Y, reachable=True, prompt_length=n, cells=5000).bound for n in lengths
    ]
    kappa = ff_contraction(model.layers[1])
    return LengthStudy(
        seed=seed,
        lengths=lengths,
        tuned=tuned,
        reduced=reduced,
        entropy_any=chain[-1][1],
        built=built,
        bounds=bounds,
        bound=any_length.bound,
        estimate=any_length.estimate,
        kappa=kappa,
    )
