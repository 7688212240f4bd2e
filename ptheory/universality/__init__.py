"""Universality: a fixed one-layer, one-head transformer; the prompt is all that changes.

Which theorem each piece serves (precise statements are this book's reconstructions):

* :mod:`.grid`: quantization and counting, the first step of Wang et al. (2023,
  Theorem 1) and of Hu et al. (2025, Theorems 2.1/2.2): ``quantize``,
  ``quantized_target``, ``class_size`` (the ``V1^{dL G}`` quantized targets),
  ``quantization_bound`` (``(C + 1)(delta/2)(dL)^{1/p}``).
* :mod:`.layers`: the fixed layers, from :mod:`ptheory.model`: token codes
  (``code_layer``), one attention head (``contextual_attention``), the value map as one
  wide layer (Theorem 2.2, ``wide_value_map``) or a deep narrow stack (Theorem 2.1,
  ``deep_value_maps``).
* :mod:`.contextual`: the attention layer as a contextual mapping (Kajitsuka and Sato
  2024; any rank, Hu et al. 2025): ``contextual_separation`` over the whole grid.
* :mod:`.build`: ``construct(d, L, delta, p=2)`` returns a :class:`UniversalModel`
  with ``forward(P, X)`` and ``prompt_for(target)``; ``dimensions`` gives every size
  analytically, for sizes far too large to build.
* :mod:`.experiments`: the chapter's measurements (``error_sweep``, ``cost_rows``).
* :mod:`.plots`: the figures of the three universality chapters.
"""

from . import contextual, experiments, grid, layers, plots
from .build import (
    UniversalModel,
    all_prompts,
    construct,
    contextual_codes,
    default_scale,
    dimensions,
)
from .contextual import Separation, contextual_separation, separation_curve
from .experiments import cost_rows, error_sweep
from .grid import (
    class_size,
    grid_sequences,
    levels,
    log10_class_size,
    quantization_bound,
    quantize,
    quantized_target,
    target_table,
)
from .plots import plot_class_size, plot_error_vs_delta, plot_separation, plot_width_depth

__all__ = [
    "Separation",
    "UniversalModel",
    "all_prompts",
    "class_size",
    "construct",
    "contextual",
    "contextual_codes",
    "contextual_separation",
    "cost_rows",
    "default_scale",
    "dimensions",
    "error_sweep",
    "experiments",
    "grid",
    "grid_sequences",
    "layers",
    "levels",
    "log10_class_size",
    "plot_class_size",
    "plot_error_vs_delta",
    "plot_separation",
    "plot_width_depth",
    "plots",
    "quantization_bound",
    "quantize",
    "quantized_target",
    "separation_curve",
    "target_table",
]
