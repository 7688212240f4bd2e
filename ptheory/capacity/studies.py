"""Seed studies of the single-layer limitation: when a longer prompt helps, and the slack
of the certified ray bound. One record per seed of the model and its unmemorizable
dataset; :func:`length_studies` runs many seeds at once (one batched search for all), so a
chapter can check a claim on twenty seeds in a few seconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import check_int, check_real
from ..model import Transformer, prompt_forward
from .engine import fit_loss, prompt_tune
from .entropy import one_token_multiplier, reachable_prompt, reachable_search
from .rays import ray_bound, unmemorizable_dataset
from .single_layer import ff_contraction, single_layer_model

__all__ = ["LengthStudy", "length_studies", "length_study", "study_problem"]

DECIDED = 1e-6
"""Largest one-token gradient norm at which the sign of the multiplier is read: above it
the one-token search has not reached a stationary point (its optimum may lie at
infinity), and the seed is undecided."""


@dataclass(frozen=True)
class LengthStudy:
    """Prompt length against loss on ``single_layer_model(d, seed, contraction=kappa)`` and
    its unmemorizable dataset.

    Attributes:
        seed: the seed of the model and the dataset.
        lengths: the prompt lengths searched, increasing, starting at 1.
        reduced: the best loss over the pairs a prompt of each length reaches (entropy
            identity; a ``d + 1``-dimensional search, an upper estimate of the best loss of
            that length).
        entropy: the prompt entropy of each of those pairs.
        built: the model's loss on the prompt that :func:`reachable_prompt` builds from the
            best pair of each length (a prompt of that length, run by the model).
        tuned: best prompt-tuning loss at each length (empty when not tuned).
        psi: the multiplier ``dF/du`` at the best one-token pair
            (:func:`one_token_multiplier`).
        residual: the one-token loss's gradient norm there (small at a one-token optimum).
        bound: the certified ray bound over every pair (the theorem's ``ell*``).
        bounds: the certified bound over the pairs a prompt of each length reaches.
        estimate: ``(1 - kappa)^2`` times the relaxation's smallest evaluated value over
            the pairs of the longest length (an upper estimate of its infimum).
        kappa: ``||W_2|| ||W_1||`` of the feed-forward layer.
    """

    seed: int
    lengths: list[int]
    reduced: list[float]
    entropy: list[float]
    built: list[float]
    tuned: list[float]
    psi: float
    residual: float
    bound: float
    bounds: list[float]
    estimate: float
    kappa: float

    @property
    def best(self) -> float:
        """The lowest loss found at the longest length (search and built prompt)."""
        return min(self.reduced[-1], self.built[-1])

    @property
    def gain(self) -> float:
        """Relative gain of the best built prompt longer than one token over the best
        one-token loss, ``(reduced[0] - min(built[1:])) / reduced[0]`` (``0`` when only one
        length was searched); positive when a longer prompt does better."""
        if len(self.built) < 2:
            return 0.0
        return (self.reduced[0] - min(self.built[1:])) / self.reduced[0]

    @property
    def prediction(self) -> str:
        """What the best one-token pair predicts: ``"one token"`` (``psi > 0``: no longer
        prompt does better near it), ``"longer"`` (``psi < 0``: a second token helps) or
        ``"undecided"`` (the one-token search stopped away from a stationary point, where
        the sign of ``psi`` means nothing)."""
        if self.residual > DECIDED or self.psi == 0.0:
            return "undecided"
        return "one token" if self.psi > 0 else "longer"

    @property
    def upper(self) -> float:
        """``(1 + kappa)^2 / (1 - kappa)^2`` times the estimate over the pairs of the longest
        length: a loss that prompts of that length get to or below, so their best loss
        lies between ``bounds[-1]`` and this."""
        return (1 + self.kappa) ** 2 / (1 - self.kappa) ** 2 * self.estimate


def study_problem(
    seed: int, *, d: int = 3, contraction: float = 0.2
) -> tuple[Transformer, torch.Tensor, torch.Tensor]:
    """The model and the dataset of one seed of the studies: ``(model, X, Y)`` with
    ``model = single_layer_model(d, seed, contraction=contraction)`` and its
    ``unmemorizable_dataset(model, seed)``."""
    seed = check_int(seed, "seed", minimum=0)
    model = single_layer_model(d=d, seed=seed, contraction=contraction)
    return (model, *unmemorizable_dataset(model, seed=seed))


def length_studies(
    seeds: Sequence[int],
    lengths: Sequence[int] = (1, 4, 16, 64),
    *,
    d: int = 3,
    contraction: float = 0.2,
    restarts: int = 32,
    steps: int = 200,
    tune_restarts: int = 2,
    tune_steps: int = 60,
    cells: int = 5000,
) -> list[LengthStudy]:
    """Run the study for every seed (see :class:`LengthStudy`).

    The reachable pairs of every length are searched for all seeds in one batched
    computation (``restarts`` starts, ``steps`` L-BFGS steps); a
    prompt of each length is built from its best pair and run by the model; the multiplier
    is read at the best one-token pair; prompts are tuned at each length with
    ``tune_restarts`` runs of ``tune_steps`` steps (``tune_restarts = 0``: not tuned); the
    certified bounds (over every pair, and over the pairs of each length) use ``cells``
    cells. ``lengths`` is increasing and starts at 1.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError("seeds must be a non-empty sequence of ints")
    seeds = [check_int(s, "seeds", minimum=0) for s in seeds]
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence):
        raise TypeError(f"lengths must be a sequence of ints, got {type(lengths).__name__}")
    lengths = [check_int(n, "lengths", minimum=1) for n in lengths]
    if not lengths or lengths != sorted(set(lengths)) or lengths[0] != 1:
        raise ValueError(f"lengths must be increasing and start at 1, got {lengths}")
    d = check_int(d, "d", minimum=2)
    contraction = check_real(contraction, "contraction", minimum=0.0, maximum=0.99)
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    tune_restarts = check_int(tune_restarts, "tune_restarts", minimum=0)
    tune_steps = check_int(tune_steps, "tune_steps", minimum=0)
    cells = check_int(cells, "cells", minimum=1)
    problems = [study_problem(seed, d=d, contraction=contraction) for seed in seeds]
    found = reachable_search(problems, lengths, restarts=restarts, steps=steps)
    out = []
    for seed, (model, X, Y), points in zip(seeds, problems, found, strict=True):
        x0 = X[0, :, -1]
        built = []
        for n, p in zip(lengths, points, strict=True):
            h = 0.0 if n == 1 else min(max(p.entropy, 1e-9), math.log(n))
            P = reachable_prompt(model, x0, p.a, h, n)
            with torch.no_grad():
                built.append(float(fit_loss(prompt_forward(model, P, X), Y)))
        tuned = []
        if tune_restarts > 0:
            res = prompt_tune(model, X, Y, lengths, steps=tune_steps, restarts=tune_restarts)
            tuned = res.loss_by_length()
        mult = one_token_multiplier(model, X, Y, points[0].a)
        every = ray_bound(model, X, Y, cells=cells)
        per_length = [
            ray_bound(model, X, Y, reachable=True, prompt_length=n, cells=cells) for n in lengths
        ]
        out.append(
            LengthStudy(
                seed=seed,
                lengths=lengths,
                reduced=[p.loss for p in points],
                entropy=[p.entropy for p in points],
                built=built,
                tuned=tuned,
                psi=mult.psi,
                residual=mult.residual,
                bound=every.bound,
                bounds=[r.bound for r in per_length],
                estimate=per_length[-1].estimate,
                kappa=ff_contraction(model.layers[1]),
            )
        )
    return out


def length_study(seed: int, lengths: Sequence[int] = (1, 4, 16, 64), **kwargs: Any) -> LengthStudy:
    """:func:`length_studies` for one seed."""
    return length_studies([check_int(seed, "seed", minimum=0)], lengths, **kwargs)[0]
