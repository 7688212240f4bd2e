"""Exercises of the Real models part: reference answers and other correct forms pass,
typical mistakes (made-up values, the bound itself, the untuned value, round guesses) fail
with a message that never shows the answer; the quick check alone (a student's copy, no
grader) catches what it can."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptheory import exercises as ex
from ptheory import real
from ptheory.exercises import _core
from ptheory.exercises import real_prompts as RP
from ptheory.segments import segment_fit

from exercisetools import fails, passes


@pytest.fixture
def no_grader(monkeypatch):
    """A student's copy of ptheory: the instructor's package is not installed."""
    monkeypatch.setattr(_core, "_grader", lambda: None)


@pytest.fixture(scope="module")
def enc() -> real.Encoder:
    return real.load_encoder()


# ------------------------------------------------------------------ ex-real-tilt
@pytest.fixture(scope="module")
def tilt_ratios(enc) -> list[float]:
    from ptheory.capacity import ray_bound

    out = []
    for t in RP.TILTS:
        data = real.ray_dataset(enc, seed=0, radius=RP.RADIUS, tilt=t)
        bound = ray_bound(*real.ray_problem(enc, data), cells=1000, refine=0).bound
        out.append(bound / real.no_prompt_loss(enc, data, "head"))
    return out


def test_tilt_reference_and_other_forms(tilt_ratios) -> None:
    passes(ex.check("ex-real-tilt", torch.tensor(tilt_ratios)))
    passes(ex.check("ex-real-tilt", tilt_ratios))
    passes(ex.check("ex-real-tilt", np.array(tilt_ratios)))


def test_tilt_wrong_answers(tilt_ratios) -> None:
    limit = [1 / (1 + t * t) for t in RP.TILTS]
    fails(ex.check("ex-real-tilt", limit), "limit 1 / (1 + t^2)", hidden=tuple(tilt_ratios))
    fails(ex.check("ex-real-tilt", [0.9, 0.8, 0.5]), "tilt 0.25", hidden=tuple(tilt_ratios))
    fails(ex.check("ex-real-tilt", [round(r, 2) for r in tilt_ratios]), "tilt")
    fails(ex.check("ex-real-tilt", tilt_ratios[::-1]), "tilt 0.25")
    fails(ex.check("ex-real-tilt", [0.0, 0.5, 0.5]), "positive")
    fails(ex.check("ex-real-tilt", [1.2, 0.5, 0.5]), "above 1")
    fails(ex.check("ex-real-tilt", tilt_ratios[:2]), "shape")


def test_tilt_quick_check_without_the_grader(no_grader, tilt_ratios) -> None:
    assert ex.check("ex-real-tilt", tilt_ratios).status == "checked"
    assert ex.check("ex-real-tilt", [0.5, 0.5, 0.5]).status == "checked"  # needs the grader
    fails(ex.check("ex-real-tilt", [1.2, 0.5, 0.5]), "above 1")


# ------------------------------------------------------------------ ex-real-same
@pytest.fixture(scope="module")
def same_answer(enc) -> tuple[float, float]:
    from ptheory.capacity import ray_bound

    data = real.ray_dataset(enc, seed=0, radius=RP.RADIUS, same_direction=True)
    bound = ray_bound(*real.ray_problem(enc, data)).bound  # the default, fine certificate
    tuned = [float(real.fit_prompts(enc, [data], "head", n, steps=100, lr=0.05).min())
             for n in RP.LENGTHS]  # fmt: skip
    return bound, min(tuned)


def test_same_direction_reference(same_answer) -> None:
    passes(ex.check("ex-real-same", same_answer))
    passes(ex.check("ex-real-same", list(same_answer)))
    passes(ex.check("ex-real-same", (torch.tensor(same_answer[0]), np.float64(same_answer[1]))))


def test_same_direction_wrong_answers(enc, same_answer) -> None:
    bound, best = same_answer
    data = real.ray_dataset(enc, seed=0, radius=RP.RADIUS, same_direction=True)
    base = real.no_prompt_loss(enc, data, "head")
    assert bound > 0  # parallel rays from different points never meet
    fails(ex.check("ex-real-same", (0.0, best)), "coarse certificate")
    fails(ex.check("ex-real-same", (0.0, 0.0)), "bound", hidden=(best,))  # issue 24
    fails(ex.check("ex-real-same", (bound, 0.0)), "below the certified bound")
    if best / 2 > bound:
        fails(ex.check("ex-real-same", (bound, best / 2)), "too small", hidden=(best,))
    fails(ex.check("ex-real-same", (bound, base)), "without a prompt")
    fails(ex.check("ex-real-same", (bound, 1e-3)), "best_loss")
    fails(ex.check("ex-real-same", (bound, 2 * best)), "too large", hidden=(best,))
    one = float(real.fit_prompts(enc, [data], "head", 1, steps=100, lr=0.05).min())
    if abs(one - best) > 1e-4 * best:
        fails(ex.check("ex-real-same", (bound, one)), "one prompt length")
    ray = real.ray_dataset(enc, seed=0, radius=RP.RADIUS)  # the ray dataset's own numbers
    from ptheory.capacity import ray_bound

    ray_b = ray_bound(*real.ray_problem(enc, ray), cells=1000, refine=0).bound
    fails(ex.check("ex-real-same", (ray_b, 1.01 * ray_b)), "bound differs")
    fails(ex.check("ex-real-same", (0.0, -1.0)), "negative")
    fails(ex.check("ex-real-same", (1.0, 0.5)), "below the certified bound")
    fails(ex.check("ex-real-same", 3), "pair")


def test_same_direction_quick_check_without_the_grader(no_grader, same_answer) -> None:
    assert ex.check("ex-real-same", same_answer).status == "checked"
    assert ex.check("ex-real-same", (0.0, 0.0)).status == "checked"  # the grader decides
    fails(ex.check("ex-real-same", (1.0, 0.5)), "below the certified bound")


# ------------------------------------------------------------------ ex-rseg-share
def share(o, a, b):  # the chapter's solution
    u, w = a - b, o - b
    t = ((w * u).sum(-2) / (u * u).sum(-2)).clamp(0, 1)
    dist = torch.linalg.vector_norm(w - t.unsqueeze(-2) * u, dim=-2)
    return dist / torch.linalg.vector_norm(w, dim=-2)


def test_share_reference_and_other_forms() -> None:
    passes(ex.check("ex-rseg-share", share))

    def by_segment_fit(o, a, b):  # the book's distance times ||a - b|| / ||o - b||
        dist = segment_fit(o, a, b)[1]
        return (
            dist * torch.linalg.vector_norm(a - b, dim=-2) / torch.linalg.vector_norm(o - b, dim=-2)
        )

    passes(ex.check("ex-rseg-share", by_segment_fit))

    def numpy_share(o, a, b):
        o, a, b = (np.asarray(x) for x in (o, a, b))
        u, w = a - b, o - b
        t = np.clip((w * u).sum(-2) / (u * u).sum(-2), 0, 1)
        return np.linalg.norm(w - t[..., None, :] * u, axis=-2) / np.linalg.norm(w, axis=-2)

    passes(ex.check("ex-rseg-share", numpy_share))


def test_share_wrong_answers() -> None:
    def by_length(o, a, b):
        return segment_fit(o, a, b)[1]

    fails(ex.check("ex-rseg-share", by_length), "[0, 1]")  # the quick check sees it

    def to_line(o, a, b):
        u, w = a - b, o - b
        t = (w * u).sum(-2) / (u * u).sum(-2)
        return torch.linalg.vector_norm(w - t.unsqueeze(-2) * u, dim=-2) / torch.linalg.vector_norm(
            w, dim=-2
        )

    fails(ex.check("ex-rseg-share", to_line), "whole line")
    fails(ex.check("ex-rseg-share", lambda o, a, b: share(o, a, b) * 0.5), "differ")
    fails(ex.check("ex-rseg-share", lambda o, a, b: share(o, a, b)[..., :1]), "shape")
    fails(ex.check("ex-rseg-share", lambda o, a, b: 2 + share(o, a, b)), "[0, 1]")
    fails(ex.check("ex-rseg-share", 0.3), "function")


def test_share_quick_check_without_the_grader(no_grader) -> None:
    assert ex.check("ex-rseg-share", share).status == "checked"
    fails(ex.check("ex-rseg-share", lambda o, a, b: 0.9 * share(o, a, b) + 0.01), "not zero")
    fails(ex.check("ex-rseg-share", lambda o, a, b: 2 + share(o, a, b)), "[0, 1]")


# ------------------------------------------------------------------ ex-rseg-positions
def layer0_gap(enc, ids, mask, P, shift, reference):  # the chapter's solution
    prompted = real.encode(enc, ids, P, mask=mask, position_offset=shift, record=True)
    plain = real.encode(enc, ids, mask=mask, position_offset=reference, record=True)
    split = real.head_split(enc, prompted, 0)
    dist = segment_fit(split.output, split.prompt_part, real.head_outputs(enc, plain, 0))[1]
    return float(dist.transpose(0, 1)[:, prompted.valid].max())


def test_positions_reference_and_other_forms() -> None:
    passes(ex.check("ex-rseg-positions", layer0_gap))

    def with_masked_select(enc, ids, mask, P, shift, reference):
        prompted = real.encode(enc, ids, P, mask=mask, position_offset=shift, record=True)
        plain = real.encode(enc, ids, mask=mask, position_offset=reference, record=True)
        split = real.head_split(enc, prompted, 0)
        bbar = real.head_outputs(enc, plain, 0)
        dist = segment_fit(split.output, split.prompt_part, bbar)[1]
        return dist.masked_select(mask.bool()[:, None].expand_as(dist)).max()

    passes(ex.check("ex-rseg-positions", with_masked_select))


def test_positions_wrong_answers() -> None:
    def with_padding(enc, ids, mask, P, shift, reference):
        prompted = real.encode(enc, ids, P, mask=mask, position_offset=shift, record=True)
        plain = real.encode(enc, ids, mask=mask, position_offset=reference, record=True)
        split = real.head_split(enc, prompted, 0)
        bbar = real.head_outputs(enc, plain, 0)
        return float(segment_fit(split.output, split.prompt_part, bbar)[1].max())

    feedback = ex.check("ex-rseg-positions", with_padding)
    assert feedback.status == "wrong"

    def same_positions(enc, ids, mask, P, shift, reference):
        return layer0_gap(enc, ids, mask, P, shift, shift)

    fails(ex.check("ex-rseg-positions", same_positions), "zero")
    fails(ex.check("ex-rseg-positions", lambda *args: 0.5), "lemma makes the distance zero")
    fails(ex.check("ex-rseg-positions", lambda *args: -1.0), "negative")
    fails(ex.check("ex-rseg-positions",
                   lambda *args: 2 * layer0_gap(*args)), "too large")  # fmt: skip


def test_positions_quick_check_without_the_grader(no_grader) -> None:
    assert ex.check("ex-rseg-positions", layer0_gap).status == "checked"
    fails(ex.check("ex-rseg-positions", lambda *args: 0.5), "lemma makes the distance zero")


# ------------------------------------------------------------------ ex-realeff-cap
def caps_from_weights(enc):  # the chapter's solution
    model, m = enc.model, enc.head_size
    caps = torch.zeros(enc.layers, enc.heads, dtype=torch.float64)
    with torch.no_grad():
        for layer, block in enumerate(model.encoder.layer):
            before = model.encoder.layer[layer - 1].output if layer else model.embeddings
            gain, bias = before.LayerNorm.weight.double(), before.LayerNorm.bias.double()
            rows = []
            for lin in (block.attention.self.query, block.attention.self.key):
                W, b = lin.weight.double(), lin.bias.double()
                rows.append((W * gain).norm(dim=1) * enc.d**0.5 + (W @ bias + b).abs())
            caps[layer] = torch.maximum(*rows).view(enc.heads, m).amax(dim=1) * m**0.25
    return caps


def test_cap_reference_and_other_forms(enc) -> None:
    caps = caps_from_weights(enc)
    passes(ex.check("ex-realeff-cap", caps))
    passes(ex.check("ex-realeff-cap", caps.numpy().tolist()))
    passes(ex.check("ex-realeff-cap", real.layernorm_cap(enc).float()))


def test_cap_wrong_answers(enc) -> None:
    caps = caps_from_weights(enc)
    fails(ex.check("ex-realeff-cap", caps / enc.head_size**0.25), "m^(1/4)")
    fails(ex.check("ex-realeff-cap", caps * 1.01), "layer")
    fails(ex.check("ex-realeff-cap", torch.full((6, 12), 100.0)), "layer")
    fails(ex.check("ex-realeff-cap", torch.ones(6, 12)), "below an entry bound")
    fails(ex.check("ex-realeff-cap", caps[:, :6]), "shape")
    fails(ex.check("ex-realeff-cap", -caps), "positive")
    # the same bound with each layer's own output LayerNorm (the wrong one)
    model, m = enc.model, enc.head_size
    wrong = torch.zeros_like(caps)
    with torch.no_grad():
        for layer, block in enumerate(model.encoder.layer):
            ln = block.output.LayerNorm
            rows = [(lin.weight.double() * ln.weight.double()).norm(dim=1) * enc.d**0.5
                    + (lin.weight.double() @ ln.bias.double() + lin.bias.double()).abs()
                    for lin in (block.attention.self.query, block.attention.self.key)]  # fmt: skip
            wrong[layer] = torch.maximum(*rows).view(enc.heads, m).amax(dim=1) * m**0.25
    assert ex.check("ex-realeff-cap", wrong).status == "wrong"


def test_cap_quick_check_without_the_grader(no_grader, enc) -> None:
    assert ex.check("ex-realeff-cap", caps_from_weights(enc)).status == "checked"
    fails(ex.check("ex-realeff-cap", torch.ones(6, 12)), "below an entry bound")


# ------------------------------------------------------------------ ex-realeff-rank
def first_paying(d, g=2):
    from ptheory.efficiency import exact_flops, poly_flops

    return next(n for n in range(2, 10**6) if poly_flops(n, n, d, g) < exact_flops(n, n, d))


def test_rank_reference_and_other_forms() -> None:
    answer = (first_paying(32), first_paying(8))
    passes(ex.check("ex-realeff-rank", answer))
    passes(ex.check("ex-realeff-rank", list(answer)))
    passes(ex.check("ex-realeff-rank", torch.tensor(answer)))
    passes(ex.check("ex-realeff-rank", (float(answer[0]), np.int64(answer[1]))))


def test_rank_wrong_answers() -> None:
    a, b = first_paying(32), first_paying(8)
    fails(ex.check("ex-realeff-rank", (b, a)), "other head size")
    fails(ex.check("ex-realeff-rank", (a + 1, b)), "smallest n")
    fails(ex.check("ex-realeff-rank", (a, b - 1)), "still costs")
    fails(ex.check("ex-realeff-rank", (512, 64)), "first item")
    fails(ex.check("ex-realeff-rank", (a, 1)), "at least 2")
    fails(ex.check("ex-realeff-rank", (a,)), "two numbers")
    fails(ex.check("ex-realeff-rank", (a + 0.5, b)), "whole number")
    for guess in (100, 500, 1000):  # round guesses
        assert ex.check("ex-realeff-rank", (guess, b)).status == "wrong" or guess == a


def test_rank_quick_check_without_the_grader(no_grader) -> None:
    assert ex.check("ex-realeff-rank", (first_paying(32), first_paying(8))).status == "checked"
    assert ex.check("ex-realeff-rank", (3, 3)).status == "checked"
    fails(ex.check("ex-realeff-rank", (0, 3)), "at least 2")


def test_probes_are_plain_data() -> None:
    import json

    for label, answer in (("ex-real-tilt", [0.5, 0.5, 0.5]), ("ex-real-same", (0.0, 1.0)),
                          ("ex-realeff-rank", (3, 4))):  # fmt: skip
        payload = ex.probe(label, answer)
        assert json.loads(json.dumps(payload)) == payload
    assert math.isfinite(ex.probe("ex-rseg-share", share)["answer"][0][0])
