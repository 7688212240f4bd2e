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
  needed to memorize (valid for any method with ``b``-bit parameters), its covering form
  for real-valued prompts of bounded norm, quantized prompts, and the lookup construction.
* :mod:`~ptheory.capacity.invertible`: Wang et al.'s multi-layer limitation: layers whose
  residual branches are small make ``X -> tau_P(X)`` injective, with a quantitative bound.
* :mod:`~ptheory.capacity.plots`: the part's figures.
"""

from . import adapt, counting, engine, entropy, invertible, plots, rays, studies
from .adapt import FitResult, LoRAResult, fine_tune, lora_fit
from .counting import (
    LookupReport,
    QuantizedReport,
    bump_dataset,
    counting_lower_bound,
    covering_length_bound,
    embed_tokens,
    grid_points_per_coordinate,
    level_dataset,
    lookup_model,
    lookup_prompt,
    lookup_smallest_lengths,
    memorize_by_lookup,
    prompt_lipschitz,
    prompt_lipschitz_ratio,
    quantize,
    quantized_memorization,
    random_smallest_lengths,
    smallest_memorizing_length,
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
    collision_dataset,
    injectivity_bound,
    injectivity_lower_bound,
    min_expansion,
    residual_model,
)
from .plots import (
    plot_bound_slack,
    plot_construction,
    plot_counting_bound,
    plot_length_study,
    plot_loss_by_length,
    plot_loss_by_norm,
    plot_parameters,
    plot_quantized,
    plot_rays,
    plot_smallest_lengths,
)
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
    "PromptSummary",
    "PromptTuneResult",
    "QuantizedReport",
    "RayBound",
    "RayGeometry",
    "adapt",
    "apex_dataset",
    "bump_dataset",
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
    "grid_points_per_coordinate",
    "initial_prompts",
    "injectivity_bound",
    "injectivity_lower_bound",
    "invertible",
    "length_lower_bound",
    "length_study",
    "level_dataset",
    "lookup_model",
    "lookup_prompt",
    "lookup_smallest_lengths",
    "lora_fit",
    "memorize_by_lookup",
    "min_expansion",
    "plot_bound_slack",
    "plot_construction",
    "plot_counting_bound",
    "plot_length_study",
    "plot_loss_by_length",
    "plot_loss_by_norm",
    "plot_parameters",
    "plot_quantized",
    "plot_rays",
    "plot_smallest_lengths",
    "plots",
    "prompt_lipschitz",
    "prompt_lipschitz_ratio",
    "prompt_summary",
    "prompt_tune",
    "quantize",
    "quantized_memorization",
    "random_smallest_lengths",
    "ray_bound",
    "ray_geometry",
    "ray_lower_bound",
    "rays",
    "reachable_loss",
    "reachable_prompt",
    "residual_model",
    "score_direction",
    "single_layer_model",
    "smallest_memorizing_length",
    "studies",
    "unmemorizable_dataset",
    "with_extra_head",
]
