"""ptheory.real.prompted: the one prompted encoder against transformers' own model and
against peft's prompt tuning and prefix tuning, on small random encoders."""

from __future__ import annotations

import copy

import pytest
import torch

from ptheory import real
from ptheory.real import prompted as pr

F64 = torch.float64


@pytest.fixture(scope="module")
def tiny() -> real.Encoder:
    enc = real.tiny_encoder(3, layers=2, heads=4, d=32)
    enc.model.double()
    return enc


@pytest.fixture(scope="module")
def batch(tiny: real.Encoder) -> tuple[torch.Tensor, torch.Tensor]:
    ids = pr.word_ids(tiny, 3, 7, seed=1)
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0
    return ids, mask


def test_the_unprompted_run_is_the_library_model(tiny, batch) -> None:
    ids, mask = batch
    ref = tiny.model(input_ids=ids, attention_mask=mask, output_hidden_states=True,
                     output_attentions=True)  # fmt: skip
    run = pr.encode(tiny, ids, mask=mask, record=True)
    assert torch.allclose(run.hidden, ref.last_hidden_state, atol=1e-12)
    for ours, theirs in zip(run.inputs, ref.hidden_states, strict=True):
        assert torch.allclose(ours, theirs, atol=1e-12)
    for ours, theirs in zip(run.probs, ref.attentions, strict=True):
        assert torch.allclose(ours, theirs, atol=1e-12)
    assert run.prompt_length == 0 and run.prefix_length == 0


def test_embedding_placement_is_peft_prompt_tuning(tiny, batch) -> None:
    from peft import PromptTuningConfig, TaskType, get_peft_model

    ids, mask = batch
    L_p = 3
    peft_model = get_peft_model(copy.deepcopy(tiny.model), PromptTuningConfig(
        task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=L_p))  # fmt: skip
    table = peft_model.prompt_encoder["default"].embedding.weight
    P = torch.randn(tiny.d, L_p, dtype=F64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        table.copy_(P.T)
        theirs = peft_model(input_ids=ids, attention_mask=mask).last_hidden_state
    P_stored = table.detach().T.to(F64)  # peft keeps its table in its own dtype
    ours = pr.encode(tiny, ids, P_stored, placement="embedding", mask=mask).hidden
    assert torch.allclose(ours, theirs.to(F64), atol=1e-10)
    # the input's positions shift: not the "input" placement
    other = pr.encode(tiny, ids, P_stored, placement="input", mask=mask).hidden
    assert not torch.allclose(other, ours, atol=1e-3)


def test_prefix_placement_is_peft_prefix_tuning(tiny, batch) -> None:
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    ids, mask = batch
    L_p = 2
    peft_model = get_peft_model(copy.deepcopy(tiny.model), PrefixTuningConfig(
        task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=L_p))  # fmt: skip
    table = peft_model.prompt_encoder["default"].embedding.weight  # (L_p, layers * 2 * d)
    with torch.no_grad():
        table.copy_(torch.randn(table.shape, generator=torch.Generator().manual_seed(1)))
        theirs = peft_model(input_ids=ids, attention_mask=mask).last_hidden_state
    # peft's layout: per layer its keys, then its values; heads of size m
    e = table.detach().to(F64).view(L_p, 2 * tiny.layers, tiny.heads, tiny.head_size)
    e = e.permute(1, 2, 3, 0)  # (2 layers, H, m, L_p)
    prefix = pr.Prefix(e[0::2], e[1::2])
    ours = pr.encode(tiny, ids, prefix, placement="prefix", mask=mask, position_offset=L_p)
    assert torch.allclose(ours.hidden, theirs.to(F64), atol=1e-10)
    assert ours.prefix_length == L_p and ours.prompt_length == 0
    assert prefix.parameters == 2 * tiny.layers * tiny.d * L_p
    kept = pr.encode(tiny, ids, prefix, placement="prefix", mask=mask)  # the book's positions
    assert not torch.allclose(kept.hidden, ours.hidden, atol=1e-3)


def test_input_placement_keeps_the_inputs_first_layer_columns(tiny, batch) -> None:
    ids, mask = batch
    P = pr.random_prompt(tiny, 3, seed=2)
    plain = pr.encode(tiny, ids, mask=mask, record=True)
    run = pr.encode(tiny, ids, P, mask=mask, record=True)
    assert torch.equal(run.inputs[0][:, 3:], plain.inputs[0])
    assert torch.equal(run.inputs[0][:, :3], P.T.expand(3, -1, -1))
    assert run.outputs.shape == plain.hidden.shape
    # the block's place does not matter: the prompt appended gives the same outputs
    h = torch.cat([plain.inputs[0], P.T.expand(3, -1, -1)], dim=1)
    visible = torch.cat([mask, torch.ones(3, 3, dtype=mask.dtype)], dim=1)
    additive = (1.0 - visible[:, None, None].to(F64)) * torch.finfo(F64).min
    with torch.no_grad():
        for block in tiny.model.encoder.layer:
            h = block(h, attention_mask=additive)[0]
    assert torch.allclose(h[:, : ids.shape[1]], run.outputs, atol=1e-10)


def test_the_two_soft_placements_start_from_the_same_prompt_columns(tiny, batch) -> None:
    ids, _ = batch
    words = pr.word_prompt(tiny, 2, seed=5, placement="embedding")
    first = pr.word_prompt(tiny, 2, seed=5, placement="input")
    run = pr.encode(tiny, ids, words, placement="embedding", record=True)
    assert torch.allclose(run.inputs[0][0, :2], first.T, atol=1e-12)


def test_prompt_reads_input_and_masks(tiny, batch) -> None:
    ids, mask = batch
    P = pr.random_prompt(tiny, 2, seed=3)
    cut = pr.encode(tiny, ids, P, mask=mask, prompt_reads_input=False, record=True)
    # the prompt's own states no longer depend on the sentence
    for h in cut.inputs:
        assert torch.allclose(h[:, :2], h[:1, :2].expand_as(h[:, :2]), atol=1e-12)
    # padding keys get no attention
    for p in cut.probs:
        assert float(p[1, :, :, -2:].abs().max()) == 0.0


def test_overrides_offsets_blocks_and_word_prefix(tiny, batch) -> None:
    ids, mask = batch
    P = pr.random_prompt(tiny, 2, seed=4)
    ref = pr.encode(tiny, ids, P, mask=mask)

    def exact(q, k, v, additive):
        return torch.softmax(q @ k.transpose(-1, -2) / tiny.head_size**0.5 + additive, -1) @ v

    same = pr.encode(tiny, ids, P, mask=mask, heads={(0, 1): exact, (1, 3): exact})
    assert torch.allclose(same.hidden, ref.hidden, atol=1e-12)
    zero = pr.encode(tiny, ids, P, mask=mask, heads={(0, 1): lambda q, k, v, m: 0 * q})
    assert not torch.allclose(zero.hidden, ref.hidden, atol=1e-6)
    off = torch.zeros(3, tiny.d, dtype=F64)
    assert torch.equal(pr.encode(tiny, ids, P, mask=mask, cls_offsets=off).hidden, ref.hidden)
    bump = torch.randn(3, tiny.d, dtype=F64, generator=torch.Generator().manual_seed(2))
    moved = pr.encode(tiny, ids, P, mask=mask, cls_offsets=bump, layers=1)
    assert not torch.allclose(moved.outputs[:, 0], pr.encode(tiny, ids, P, mask=mask,
                                                              layers=1).outputs[:, 0])  # fmt: skip
    copies = [copy.deepcopy(b) for b in tiny.model.encoder.layer]
    assert torch.equal(pr.encode(tiny, ids, P, mask=mask, blocks=copies).hidden, ref.hidden)
    # a prefix made of words is the words' keys and values: against the words as a
    # prompt whose states may not read the sentence, the first layer agrees exactly
    prefix = pr.word_prefix(tiny, 2, seed=6)
    words = pr.word_prompt(tiny, 2, seed=6)
    a = pr.encode(tiny, ids, prefix, placement="prefix", mask=mask, layers=1)
    b = pr.encode(tiny, ids, words, mask=mask, layers=1, prompt_reads_input=False)
    assert torch.allclose(a.outputs, b.outputs, atol=1e-10)


def test_encode_is_differentiable_in_the_prompt(tiny, batch) -> None:
    ids, mask = batch
    P = pr.random_prompt(tiny, 2, seed=1).clone().requires_grad_(True)
    pr.encode(tiny, ids, P, mask=mask).outputs.sum().backward()
    assert P.grad is not None and float(P.grad.abs().sum()) > 0
    prefix = pr.word_prefix(tiny, 1, seed=0)
    k = prefix.keys.clone().requires_grad_(True)
    out = pr.encode(tiny, ids, pr.Prefix(k, prefix.values), placement="prefix", mask=mask)
    out.hidden.sum().backward()
    assert k.grad is not None and float(k.grad.abs().sum()) > 0


def test_word_tokens_are_whole_words() -> None:
    enc = real.load_encoder()
    words = enc.tokenizer.convert_ids_to_tokens(pr.word_tokens(enc).tolist())
    assert len(words) > 10_000
    assert all(w.isalpha() and w.isascii() and len(w) >= 2 for w in words)
    ids = pr.word_ids(enc, 2, 5, seed=0)
    assert ids[:, 0].eq(enc.tokenizer.cls_token_id).all()
    assert ids[:, -1].eq(enc.tokenizer.sep_token_id).all()
