"""Efficiency: the norm phase transition of prompt-tuning inference.

Serves Hu et al. (2025), Theorems 3.1 and 3.2, through Alman and Song (2023). Attention
here uses the row layout of the attention literature (``Q: (..., n_q, d)``,
``K, V: (..., n, d)``) and the score scale ``1/d`` by default; the prompt-tuning entry point
takes the book's columns.

Modules:
    exact: ``exact_attention``, PyTorch's fast exact path and the float64 reference.
    polynomial: ``poly_attention``, the polynomial method (Theorem 3.1), its feature map,
        coefficients and proved error bounds.
    degree: ``select_degree``, the smallest degree for a bound ``B`` and an error target,
        with its rank ``C(d + g, g)`` and cost; ``error_vs_bound``, error as ``B`` grows.
    inference: ``norm_criterion`` and ``prompt_inference``: queries from the input, keys
        and values from ``[P, X]``, the fast path when ``B <= sqrt(ln n)`` (Theorem 3.1).
    transition: the planted-duplicate experiment, the nearest-neighbour gadget of the
        hardness reduction, and the largest feasible ``B`` (Theorem 3.2).
    timing: ``benchmark_attention`` and ``best_time`` (runtime against ``n``).
    plots: the figures of the two efficiency chapters.
"""

from . import degree, exact, inference, plots, polynomial, timing, transition
from .degree import DegreePlan, error_vs_bound, monomial_count, select_degree
from .exact import exact_attention
from .inference import NormCriterion, PromptInference, norm_criterion, prompt_inference
from .plots import (
    plot_error_vs_bound,
    plot_feasible_bound,
    plot_gadget,
    plot_planted_mass,
    plot_runtime,
)
from .polynomial import (
    attention_error_bound,
    entry_error_bound,
    exp_poly_coefficients,
    feature_map,
    monomial_exponents,
    poly_attention,
    poly_error_bound,
    score_radius,
)
from .timing import benchmark_attention, best_time, crossover_size
from .transition import (
    FeasibleBound,
    GadgetResult,
    largest_feasible_bound,
    nn_gadget,
    planted_mass,
    sign_vectors,
)

__all__ = [
    "DegreePlan",
    "FeasibleBound",
    "GadgetResult",
    "NormCriterion",
    "PromptInference",
    "attention_error_bound",
    "benchmark_attention",
    "best_time",
    "crossover_size",
    "degree",
    "entry_error_bound",
    "error_vs_bound",
    "exact",
    "exact_attention",
    "exp_poly_coefficients",
    "feature_map",
    "inference",
    "largest_feasible_bound",
    "monomial_count",
    "monomial_exponents",
    "nn_gadget",
    "norm_criterion",
    "planted_mass",
    "plot_error_vs_bound",
    "plot_feasible_bound",
    "plot_gadget",
    "plot_planted_mass",
    "plot_runtime",
    "plots",
    "poly_attention",
    "poly_error_bound",
    "polynomial",
    "prompt_inference",
    "score_radius",
    "select_degree",
    "sign_vectors",
    "timing",
    "transition",
]
