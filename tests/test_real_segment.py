"""The segment lemma head by head (ptheory.real.segment): on small random BERT encoders
with random biases and padding, the recomputed split reproduces the model's head outputs,
the identity is exact, its wrong forms fail, and the depth measurements behave as the
chapter says; one test on the packaged weights; prefixes and tuned prompts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from ptheory import real
from ptheory.real import segment_plots

TOL = 1e-12


def _encoder(seed: int = 0, *, layers: int = 3, heads: int = 4, d: int = 32) -> real.Encoder:
    """A tiny encoder in float64 whose biases and LayerNorm weights are random (BERT's
    initialisation sets them to 0 and 1, which would hide a forgotten bias)."""
    enc = real.tiny_encoder(seed, layers=layers, heads=heads, d=d)
    enc.model.double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in enc.model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
            elif "LayerNorm.weight" in name:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
            elif "query.weight" in name or "key.weight" in name:
                p.mul_(20.0)  # scores of order one, so that the softmax is not uniform
    return enc


def _inputs(enc: real.Encoder, seed: int = 0, N: int = 3, L: int = 7):
    gen = torch.Generator().manual_seed(100 + seed)
    ids = torch.randint(enc.vocab_size, (N, L), generator=gen)
    mask = torch.ones(N, L, dtype=torch.int64)
    mask[1, L - 3 :] = 0  # padding
    mask[2, L - 1 :] = 0
    return ids, mask


# ------------------------------------------------------------------ the runs
def test_run_records_the_models_own_states() -> None:
    enc = _encoder(1)
    ids, mask = _inputs(enc)
    plain = real.encode(enc, ids, mask=mask, record=True)
    with torch.no_grad():
        ref = enc.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert len(plain.inputs) == enc.layers + 1 and plain.prompt_length == 0
    for ours, theirs in zip(plain.inputs, ref.hidden_states, strict=True):
        assert torch.allclose(ours, theirs, atol=1e-12)
    assert plain.probs[0].shape == (3, enc.heads, 7, 7)
    assert torch.equal(plain.valid, mask.bool())


def test_prompt_is_inserted_after_the_embeddings() -> None:
    enc = _encoder(2)
    ids, mask = _inputs(enc)
    P = real.make_prompt(enc, "random", 3, seed=4)
    run = real.encode(enc, ids, P, mask=mask, record=True)
    plain = real.encode(enc, ids, mask=mask, record=True)
    assert run.prompt_length == 3 and run.inputs[0].shape == (3, 10, enc.d)
    assert torch.equal(run.inputs[0][:, :3], P.T.expand(3, 3, enc.d))
    assert torch.equal(run.inputs[0][:, 3:], plain.inputs[0])  # the sentence's own states
    shifted = real.encode(enc, ids, P, mask=mask, position_offset=3, record=True)
    assert not torch.allclose(shifted.inputs[0][:, 3:], plain.inputs[0])


def test_make_prompt_kinds() -> None:
    enc = _encoder(3)
    words = real.make_prompt(enc, "words", 5, seed=1)
    rand = real.make_prompt(enc, "random", 5, seed=1)
    assert words.shape == rand.shape == (enc.d, 5)
    norms = torch.linalg.vector_norm(words, dim=0)
    assert torch.allclose(torch.linalg.vector_norm(rand, dim=0), norms, rtol=1e-12)
    cos = (words * rand).sum(0) / norms**2
    assert cos.abs().max() < 0.9  # not the same directions
    assert torch.equal(words, real.make_prompt(enc, "words", 5, seed=1))
    assert not torch.equal(words, real.make_prompt(enc, "words", 5, seed=2))


# ------------------------------------------------------------------ the lemma
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identity_is_exact_with_bias_and_mask(seed: int) -> None:
    enc = _encoder(seed)
    ids, mask = _inputs(enc, seed)
    run = real.encode(
        enc, ids, real.make_prompt(enc, "random", 2 + seed, seed), mask=mask, record=True
    )
    for layer in range(enc.layers):
        split = real.head_split(enc, run, layer)
        assert float(real.identity_gap(split, run.valid).max()) < TOL
        assert torch.allclose(split.weight, split.model_weight, atol=1e-13)
        assert ((split.weight + split.input_weight - 1).abs() < 1e-13).all()
        assert ((split.weight > 0) & (split.weight < 1)).all()
        # the output of the model, and the parts, are not trivially equal
        assert (split.prompt_part - split.input_part).abs().max() > 1e-2


def test_identity_check_rejects_wrong_answers() -> None:
    enc = _encoder(4)
    ids, mask = _inputs(enc)
    run = real.encode(enc, ids, real.make_prompt(enc, "random", 3, 0), mask=mask, record=True)
    split = real.head_split(enc, run, 1)
    count = 3 / (3 + ids.shape[1])
    assert float(real.identity_gap(split, run.valid, count).max()) > 1e-3
    no_mask = real.head_split(enc, run, 1, use_mask=False)
    assert float(real.identity_gap(no_mask, run.valid).max()) > 1e-3
    no_bias = real.head_split(enc, run, 1, value_bias=False)
    assert float(real.identity_gap(no_bias, run.valid).max()) > 1e-3
    # the combination with the model's own weights is the identity again
    assert float(real.identity_gap(split, run.valid, split.model_weight).max()) < TOL


def test_head_outputs_are_the_models() -> None:
    """Summing the head outputs and the output bias gives the attention sublayer's
    pre-LayerNorm value: the model's own ``attention`` state after LayerNorm."""
    enc = _encoder(5)
    ids, mask = _inputs(enc)
    plain = real.encode(enc, ids, mask=mask, record=True)
    block = enc.model.encoder.layer[0].attention.output
    o = real.head_outputs(enc, plain, 0).sum(dim=1).transpose(-1, -2)  # (N, L, d)
    with torch.no_grad():
        u = block.LayerNorm(o + block.dense.bias + plain.inputs[0])
    assert torch.allclose(u, plain.attention[0], atol=1e-12)


def test_measurements_first_layer_exact_deeper_not() -> None:
    enc = _encoder(6)
    ids, mask = _inputs(enc)
    plain = real.encode(enc, ids, mask=mask, record=True)
    m = real.measure_segments(
        enc,
        real.encode(enc, ids, real.make_prompt(enc, "random", 3, 1), mask=mask, record=True),
        plain,
    )
    assert m.off_segment.shape == (enc.layers, enc.heads, 3, 7)
    first = real.layer_quantiles(m.off_segment, m.valid, 1.0)
    assert first[0] < TOL and (real.layer_quantiles(m.off_segment, m.valid)[1:] > 1e-4).all()
    assert float(real.layer_quantiles(m.own_off_segment, m.valid, 1.0).max()) < 1e-10
    assert float(real.layer_quantiles(m.multihead_off_segment, m.valid).min()) > 1e-4
    assert m.identity_error.max() < TOL and m.weight_mismatch.max() < TOL
    assert float(m.prompt_spread[0]) == 0 and (m.prompt_spread[1:] > 1e-4).all()
    assert m.prompt_spread.shape == (enc.layers,)
    assert float(m.state_change[0].max()) == 0 and (m.state_change[1:].amax(dim=(1, 2)) > 0).all()


def test_blocking_and_shifting_controls() -> None:
    enc = _encoder(7)
    ids, mask = _inputs(enc)
    P = real.make_prompt(enc, "random", 2, 3)
    plain = real.encode(enc, ids, mask=mask, record=True)
    blocked = real.measure_segments(
        enc, real.encode(enc, ids, P, mask=mask, prompt_reads_input=False, record=True), plain
    )
    assert float(blocked.prompt_spread.max()) == 0.0
    assert blocked.identity_error.max() < TOL  # the lemma does not care about the mask's shape
    shifted = real.measure_segments(
        enc, real.encode(enc, ids, P, mask=mask, position_offset=2, record=True), plain
    )
    assert float(real.layer_quantiles(shifted.off_segment, shifted.valid, 1.0)[0]) > 1e-3
    same = real.measure_segments(
        enc,
        real.encode(enc, ids, P, mask=mask, position_offset=2, record=True),
        real.encode(enc, ids, mask=mask, position_offset=2, record=True),
    )
    assert float(real.layer_quantiles(same.off_segment, same.valid, 1.0)[0]) < TOL


def test_bending_residual_is_affine_layernorm_is_not() -> None:
    enc = _encoder(8)
    ids, mask = _inputs(enc)
    run = real.encode(enc, ids, real.make_prompt(enc, "random", 3, 2), mask=mask, record=True)
    bend = real.measure_bending(enc, run)
    assert bend.distance.shape == (enc.layers, len(real.STAGES), enc.heads, 3, 7)
    assert bend.reproduction_error < TOL
    residual = real.layer_quantiles(bend.distance[:, 0], bend.valid, 1.0)
    assert (residual < 1e-9).all()
    for i in range(1, len(real.STAGES)):
        assert (real.layer_quantiles(bend.distance[:, i], bend.valid) > 1e-6).all()


def test_measure_prompts_keys() -> None:
    enc = _encoder(9, layers=2)
    ids, mask = _inputs(enc)
    prompts = {("words", 0): real.make_prompt(enc, "words", 2, 0),
               ("prefix", 0): real.word_prefix(enc, 2, seed=0)}  # fmt: skip
    out = real.measure_prompts(enc, ids, mask, prompts)
    assert sorted(out) == [("prefix", 0), ("words", 0)]
    assert float(out["prefix", 0].prompt_spread.max()) == 0.0  # a prefix reads nothing
    assert float(out["words", 0].prompt_spread[1:].min()) > 0.0


# ------------------------------------------------------------------ summaries
def test_layer_quantiles_and_head_median_against_numpy() -> None:
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(3, 4, 2, 5, generator=gen, dtype=torch.float64)
    valid = torch.tensor([[True] * 5, [True, True, False, False, False]])
    med = real.layer_quantiles(values, valid)
    for layer in range(3):
        kept = values[layer].numpy()[:, valid.numpy()]
        assert math.isclose(float(med[layer]), float(np.quantile(kept, 0.5)), rel_tol=1e-12)
    q = real.layer_quantiles(values, valid, (0.1, 0.9))
    assert q.shape == (2, 3) and (q[0] <= q[1]).all()
    one = real.head_median([values], valid)
    two = real.head_median([values, values.flip(-1)], valid)
    assert one.shape == two.shape == (3, 4)
    for layer, head in ((0, 0), (1, 2), (2, 3)):
        kept = values[layer, head][valid]
        assert float(one[layer, head]) == float(kept.median())  # torch's lower median
        both = torch.cat([kept, values[layer, head].flip(-1)[valid]])
        assert float(two[layer, head]) == float(both.median())


# ------------------------------------------------------------------ the real model
def test_packaged_model_identity_exact_and_first_layer_on_segment() -> None:
    enc = real.load_encoder(dtype=torch.float64)
    ids, mask = real.tokenize_sentences(enc, list(real.SENTENCES[:3]))
    plain = real.encode(enc, ids, mask=mask, record=True)
    for kind in real.PROMPT_KINDS:
        P = real.make_prompt(enc, kind, 4, seed=0)
        assert P.shape == (384, 4)
        m = real.measure_segments(enc, real.encode(enc, ids, P, mask=mask, record=True), plain)
        assert m.identity_error.max() < TOL and m.weight_mismatch.max() < TOL
        assert float(real.layer_quantiles(m.off_segment, m.valid, 1.0)[0]) < TOL
        assert (real.layer_quantiles(m.off_segment, m.valid)[1:] > 1e-2).all()
    words = real.tokenize_sentences(enc)[0]
    assert words.shape[0] == len(real.SENTENCES)


# ------------------------------------------------------------------ figures
def test_figures() -> None:
    maps = {"a": torch.rand(3, 4), "b": torch.rand(3, 4)}
    assert isinstance(segment_plots.plot_head_maps(maps, colorbar="x"), Figure)
    profiles = {"a": torch.rand(3, 5).sort(dim=0).values}
    assert isinstance(segment_plots.plot_layer_profiles(profiles, ylabel="y", log=True), Figure)
    with pytest.raises(TypeError, match=r"^maps"):
        segment_plots.plot_head_maps({}, colorbar="x")
    with pytest.raises(ValueError, match=r"^maps"):
        segment_plots.plot_head_maps({"a": torch.rand(3)}, colorbar="x")
    with pytest.raises(TypeError, match=r"^colorbar"):
        segment_plots.plot_head_maps(maps, colorbar=1)
    with pytest.raises(ValueError, match=r"^vmax"):
        segment_plots.plot_head_maps(maps, colorbar="x", vmax=0.0)
    with pytest.raises(ValueError, match=r"^maps"):
        segment_plots.plot_head_maps({"a": torch.zeros(3, 4)}, colorbar="x")
    with pytest.raises(ValueError, match=r"^ncols"):
        segment_plots.plot_head_maps(maps, colorbar="x", ncols=0)
    with pytest.raises(TypeError, match=r"^vmax"):
        segment_plots.plot_head_maps(maps, colorbar="x", vmax="1")
    with pytest.raises(TypeError, match=r"^cmap"):
        segment_plots.plot_head_maps(maps, colorbar="x", cmap=None)
    with pytest.raises(TypeError, match=r"^profiles"):
        segment_plots.plot_layer_profiles({}, ylabel="y")
    with pytest.raises(ValueError, match=r"^profiles"):
        segment_plots.plot_layer_profiles({"a": torch.rand(2, 5)}, ylabel="y")
    with pytest.raises(TypeError, match=r"^ylabel"):
        segment_plots.plot_layer_profiles(profiles, ylabel=None)


# ------------------------------------------------------------------ prefixes and tuning
@pytest.mark.parametrize("seed", [0, 1])
def test_identity_is_exact_for_a_prefix(seed: int) -> None:
    enc = _encoder(10 + seed)
    ids, mask = _inputs(enc, seed)
    prefix = real.word_prefix(enc, 2 + seed, seed=seed)
    run = real.encode(enc, ids, prefix, placement="prefix", mask=mask, record=True)
    plain = real.encode(enc, ids, mask=mask, record=True)
    for layer in range(enc.layers):
        split = real.head_split(enc, run, layer)
        assert float(real.identity_gap(split, run.valid).max()) < TOL
        assert torch.allclose(split.weight, split.model_weight, atol=1e-13)
    m = real.measure_segments(enc, run, plain)
    assert float(real.layer_quantiles(m.off_segment, m.valid, 1.0)[0]) < TOL
    assert (real.layer_quantiles(m.off_segment, m.valid)[1:] > 1e-4).all()
    # the wrong weight is rejected for a prefix too
    split = real.head_split(enc, run, 1)
    assert float(real.identity_gap(split, run.valid, 0.5).max()) > 1e-3


def test_tune_on_sentences_moves_the_outputs() -> None:
    enc = real.tiny_encoder(2, layers=2, heads=2, d=16)
    ids, mask = _inputs(enc)
    for kind in ("prompt", "prefix"):
        start = real.tune_on_sentences(enc, ids, mask, kind=kind, steps=0).prompt
        run = real.tune_on_sentences(enc, ids, mask, kind=kind, steps=5)
        tuned = run.prompt
        again = real.tune_on_sentences(enc, ids, mask, kind=kind, steps=5).prompt
        assert len(run.losses) == 6 and run.losses[-1] < run.losses[0]
        if kind == "prompt":
            assert not torch.equal(start, tuned) and torch.equal(tuned, again)
        else:
            assert not torch.equal(start.keys, tuned.keys)
            assert torch.equal(tuned.values, again.values)
