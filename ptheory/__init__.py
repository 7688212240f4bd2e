"""ptheory: the executable theory of prompt tuning.

The package behind the companion book to Hu et al. (ICLR 2025) and Wang et al.
(NeurIPS 2023). Tokens are columns everywhere: a sequence is ``X: (d, L)``, a batch
``X: (N, d, L)``, a soft prompt ``P: (d, L_p)``.

Modules:
    model: attention and feed-forward layers, transformers, prompt tuning's forward pass.
    segments: the segment lemma, what a prompt can do to one attention output.
    distance: the ``d_p`` distance between sequence-to-sequence functions (Monte Carlo).
    targets: Lipschitz targets with a known constant, and an empirical Lipschitz estimate.
    measure: small measurement helpers (log-log slopes).
    plotting: the book's figure style and figures.
    verdicts: a chapter's checks as a table (claim, measured, threshold, verdict) that
        raises when a claim fails or a control's wrong answer passes.

The book's three parts are subpackages, imported on their own (``import
ptheory.universality``) so that ``import ptheory`` stays light:
    universality: a fixed one-layer, single-head transformer made universal by its prompt.
    capacity: prompt tuning, LoRA and fine-tuning on frozen models; what no prompt can fit.
    efficiency: exact and polynomial attention, the norm criterion, the phase transition.
and ``python -m ptheory.bench`` benchmarks polynomial against exact attention.
For coursework, ``ptheory.exercises`` holds the checks of the chapters' exercises and
``ptheory.widgets`` the live explorers (one figure, one knob) of each part.
"""

from . import distance, measure, model, segments, targets, verdicts
from .distance import Estimate, dp_distance, uniform_inputs
from .measure import loglog_slope
from .model import (
    Attention,
    FeedForward,
    Transformer,
    build_transformer,
    default_device,
    freeze,
    mixing_attention,
    prompt_forward,
    torch_threads,
)
from .segments import PromptSplit, check_prompt_identity, prompt_split, segment_fit
from .targets import (
    LipschitzTarget,
    empirical_lipschitz,
    mean_pool_target,
    random_relu_target,
    shift_target,
)
from .verdicts import CheckFailed, Verdicts

__version__ = "0.1.0"

__all__ = [
    "Attention",
    "CheckFailed",
    "Estimate",
    "FeedForward",
    "LipschitzTarget",
    "PromptSplit",
    "Transformer",
    "Verdicts",
    "__version__",
    "build_transformer",
    "check_prompt_identity",
    "default_device",
    "distance",
    "dp_distance",
    "empirical_lipschitz",
    "freeze",
    "loglog_slope",
    "mean_pool_target",
    "measure",
    "mixing_attention",
    "model",
    "prompt_forward",
    "prompt_split",
    "random_relu_target",
    "segment_fit",
    "segments",
    "shift_target",
    "targets",
    "torch_threads",
    "uniform_inputs",
    "verdicts",
]
