"""Capacity of prompt tuning: what a prompt can memorize, and what no prompt can.

Modules, along the theory's seams:

* :mod:`~ptheory.capacity.engine`: the batched prompt-tuning engine (restarts and prompt
  lengths in one tensor computation, Adam and L-BFGS), used by every chapter of the part.
* :mod:`~ptheory.capacity.optim`: batched L-BFGS over independent runs, single-thread helper.
* :mod:`~ptheory.capacity.rays`: Wang et al.'s single-layer limitation (the two rays that
  do not meet) and its analytic lower bound on the loss of every prompt.
* :mod:`~ptheory.capacity.entropy`: the entropy identity ``log T = mean score + H(w)``
  (the book's lemma), the prompt-length bound of an exact fit and the reachable-pair loss.
* :mod:`~ptheory.capacity.adapt`: the weight-space baselines, LoRA (closed form or
  trained) and full fine-tuning, on the same frozen model and loss.
* :mod:`~ptheory.capacity.counting`: the book's own counting bound on the prompt length
  needed to memorize (valid for any method with ``nu``-bit parameters), the family of
  Lipschitz targets behind it, and its covering form for real-valued prompts.
* :mod:`~ptheory.capacity.lookup`: a frozen model that reads its prompt as a lookup table,
  a proved lower bound on its prompt length, and a search over every length.
* :mod:`~ptheory.capacity.quantized`: prompts with ``bits``-bit entries against the count.
* :mod:`~ptheory.capacity.invertible`: Wang et al.'s multi-layer limitation: layers whose
  residual branches are small make ``X -> tau_P(X)`` injective, with a quantitative bound;
  the Lipschitz constant of ``P -> tau_P``; adversarial searches against both.
* :mod:`~ptheory.capacity.plots`, :mod:`~ptheory.capacity.bound_plots`: the part's figures.
"""

from . import (
    adapt,
    bound_plots,
    counting,
    engine,
    entropy,
    invertible,
    lookup,
    plots,
    quantized,
    rays,
    studies,
)
from .adapt import FitResult, LoRAResult, fine_tune, lora_fit
from .bound_plots import (
    plot_branch_constants,
    plot_counting_bound,
    plot_lookup_lengths,
    plot_loss_by_norm,
    plot_quantized,
    plot_smallest_lengths,
)
from .counting import (
    bump_dataset,
    bump_height,
    bump_lipschitz_ratio,
    bump_target,
    counting_lower_bound,
    covering_length_bound,
    grid_points_per_coordinate,
    level_dataset,
)
from .engine import PromptTuneResult, check_dataset, fit_loss, initial_prompts, prompt_tune
from .entropy import (
    PromptSummary,
    length_lower_bound,
    prompt_summary,
    reachable_loss,
    reachable_prompt,
    score_direction,
)
from .invertible import (
    InjectivityBound,
    WorstCase,
    collision_dataset,
    injectivity_bound,
    injectivity_lower_bound,
    prompt_lipschitz,
    residual_model,
    worst_branch_ratios,
    worst_expansion,
    worst_prompt_ratio,
)
from .lookup import (
    LookupReport,
    LookupSearch,
    embed_tokens,
    forced_crossings,
    lookup_length_bound,
    lookup_length_search,
    lookup_model,
    lookup_prompt,
    lookup_sharpness,
    memorize_by_lookup,
    merged_lookup_prompt,
)
from .plots import (
    plot_bound_slack,
    plot_length_study,
    plot_loss_by_length,
    plot_parameters,
    plot_rays,
)
from .quantized import QuantizedReport, quantize, quantized_memorization
from .rays import (
    RayBound,
    RayGeometry,
    apex_dataset,
    ff_contraction,
    ff_inverse,
    ray_bound,
    ray_geometry,
    ray_lower_bound,
    single_layer_model,
    unmemorizable_dataset,
    with_extra_head,
)
from .studies import LengthStudy, length_study

__all__ = [
    "FitResult",
    "InjectivityBound",
    "LengthStudy",
    "LoRAResult",
    "LookupReport",
    "LookupSearch",
    "PromptSummary",
    "PromptTuneResult",
    "QuantizedReport",
    "RayBound",
    "RayGeometry",
    "WorstCase",
    "adapt",
    "apex_dataset",
    "bound_plots",
    "bump_dataset",
    "bump_height",
    "bump_lipschitz_ratio",
    "bump_target",
    "check_dataset",
    "collision_dataset",
    "counting",
    "counting_lower_bound",
    "covering_length_bound",
    "embed_tokens",
    "engine",
    "entropy",
    "ff_contraction",
    "ff_inverse",
    "fine_tune",
    "fit_loss",
    "forced_crossings",
    "grid_points_per_coordinate",
    "initial_prompts",
    "injectivity_bound",
    "injectivity_lower_bound",
    "invertible",
    "length_lower_bound",
    "length_study",
    "level_dataset",
    "lookup",
    "lookup_length_bound",
    "lookup_length_search",
    "lookup_model",
    "lookup_prompt",
    "lookup_sharpness",
    "lora_fit",
    "memorize_by_lookup",
    "merged_lookup_prompt",
    "plot_bound_slack",
    "plot_branch_constants",
    "plot_counting_bound",
    "plot_length_study",
    "plot_lookup_lengths",
    "plot_loss_by_length",
    "plot_loss_by_norm",
    "plot_parameters",
    "plot_quantized",
    "plot_rays",
    "plot_smallest_lengths",
    "plots",
    "prompt_lipschitz",
    "prompt_summary",
    "prompt_tune",
    "quantize",
    "quantized",
    "quantized_memorization",
    "ray_bound",
    "ray_geometry",
    "ray_lower_bound",
    "rays",
    "reachable_loss",
    "reachable_prompt",
    "residual_model",
    "score_direction",
    "single_layer_model",
    "studies",
    "unmemorizable_dataset",
    "with_extra_head",
    "worst_branch_ratios",
    "worst_expansion",
    "worst_prompt_ratio",
]
