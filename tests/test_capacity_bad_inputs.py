"""Bad-input sweep of ptheory.capacity: every public function names the argument it refuses.

The result dataclasses (``PromptTuneResult``, ``LoRAResult``, ``FitResult``,
``InjectivityBound``, ``LookupReport``) only hold what a function returned; the one with a
method taking input (``RayGeometry.ray_points``) is swept like the functions.
"""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from ptheory import capacity
from ptheory.capacity import (
    apex_dataset,
    bump_dataset,
    check_dataset,
    collision_dataset,
    counting_lower_bound,
    embed_tokens,
    ff_contraction,
    ff_inverse,
    fine_tune,
    fit_loss,
    grid_points_per_coordinate,
    initial_prompts,
    injectivity_bound,
    injectivity_lower_bound,
    lipschitz_dataset,
    lookup_model,
    lookup_prompt,
    lora_fit,
    memorize_by_lookup,
    min_expansion,
    optim,
    plot_construction,
    plot_counting_bound,
    plot_loss_by_length,
    plot_loss_by_norm,
    plot_parameters,
    plot_rays,
    prompt_bits_needed,
    prompt_tune,
    ray_geometry,
    ray_lower_bound,
    residual_model,
    single_layer_model,
    unmemorizable_dataset,
)
from ptheory.model import Attention, FeedForward, Transformer, build_transformer

from badinput import Case, case_params, check_case, public_callables

F64 = torch.float64
NAN = float("nan")

MODEL = single_layer_model(3, seed=0)
X, Y = unmemorizable_dataset(MODEL, seed=0)
DEEP = residual_model(3, blocks=2, seed=0)
XC, YC = collision_dataset(DEEP, seed=0)
FF = MODEL.layers[1]
RESULT = prompt_tune(MODEL, X, Y, [1, 2], steps=2, restarts=2)
GEOM = ray_geometry(MODEL, X, Y)
TWO_HEADS = single_layer_model(3, seed=0, heads=2)
EXPANDING = FeedForward.from_weights(
    2.0 * torch.eye(3, dtype=F64), torch.zeros(3, dtype=F64), torch.eye(3, dtype=F64),
    torch.zeros(3, dtype=F64),
)  # fmt: skip


def nan_like(t: torch.Tensor) -> torch.Tensor:
    out = t.clone()
    out.view(-1)[0] = NAN
    return out


CASES: list[Case] = [
    # ------------------------------------------------------------- single_layer_model
    Case("single_layer_model", "d one", lambda: single_layer_model(1), ValueError, "d"),
    Case("single_layer_model", "d float", lambda: single_layer_model(3.0), TypeError, "d"),
    Case("single_layer_model", "seed negative", lambda: single_layer_model(3, -1), ValueError,
         "seed"),
    Case("single_layer_model", "contraction one", lambda: single_layer_model(contraction=1.0),
         ValueError, "contraction"),
    Case("single_layer_model", "hidden zero", lambda: single_layer_model(hidden=0), ValueError,
         "hidden"),
    Case("single_layer_model", "heads zero", lambda: single_layer_model(heads=0), ValueError,
         "heads"),
    # ---------------------------------------------------------- unmemorizable_dataset
    Case("unmemorizable_dataset", "model not a Transformer",
         lambda: unmemorizable_dataset(FF), TypeError, "model"),
    Case("unmemorizable_dataset", "model too deep",
         lambda: unmemorizable_dataset(DEEP), ValueError, "model"),
    Case("unmemorizable_dataset", "seed bool", lambda: unmemorizable_dataset(MODEL, True),
         TypeError, "seed"),
    Case("unmemorizable_dataset", "radius zero",
         lambda: unmemorizable_dataset(MODEL, radius=0.0), ValueError, "radius"),
    Case("unmemorizable_dataset", "tilt negative",
         lambda: unmemorizable_dataset(MODEL, tilt=-1.0), ValueError, "tilt"),
    Case("unmemorizable_dataset", "same_direction int",
         lambda: unmemorizable_dataset(MODEL, same_direction=1), TypeError, "same_direction"),
    Case("apex_dataset", "n zero", lambda: apex_dataset(MODEL, 0), ValueError, "n"),
    Case("apex_dataset", "stretch zero", lambda: apex_dataset(MODEL, 2, stretch=0.0),
         ValueError, "stretch"),
    Case("apex_dataset", "offset negative", lambda: apex_dataset(MODEL, 2, offset=-1.0),
         ValueError, "offset"),
    Case("apex_dataset", "model deep", lambda: apex_dataset(DEEP, 2), ValueError, "model"),
    # ----------------------------------------------------------------- ray geometry
    Case("ray_lower_bound", "model two heads", lambda: ray_lower_bound(TWO_HEADS, X, Y),
         ValueError, "model"),
    Case("ray_lower_bound", "X list", lambda: ray_lower_bound(MODEL, X.tolist(), Y), TypeError,
         "X"),
    Case("ray_lower_bound", "X nan", lambda: ray_lower_bound(MODEL, nan_like(X), Y), ValueError,
         "X"),
    Case("ray_lower_bound", "Y two columns",
         lambda: ray_lower_bound(MODEL, X, torch.cat([Y, Y], -1)), ValueError, "Y"),
    Case("ray_lower_bound", "X different last tokens",
         lambda: ray_lower_bound(MODEL, X.flip(-1), Y), ValueError, "X"),
    Case("ray_geometry", "Y wrong count", lambda: ray_geometry(MODEL, X, Y[:1]), ValueError, "Y"),
    Case("ray_geometry", "X wrong rows", lambda: ray_geometry(MODEL, X[:, :2], Y), ValueError,
         "X"),
    Case("RayGeometry", "ray_points s 2-d",
         lambda: GEOM.ray_points(torch.zeros(2, 2, dtype=F64)), ValueError, "s"),
    Case("RayGeometry", "ray_points s list", lambda: GEOM.ray_points([0.0, 1.0]), TypeError, "s"),
    Case("ff_contraction", "ff not a FeedForward", lambda: ff_contraction(MODEL), TypeError, "ff"),
    Case("ff_inverse", "ff expanding", lambda: ff_inverse(EXPANDING, Y), ValueError, "ff"),
    Case("ff_inverse", "Y list", lambda: ff_inverse(FF, [[1.0]]), TypeError, "Y"),
    Case("ff_inverse", "tol zero", lambda: ff_inverse(FF, Y, tol=0.0), ValueError, "tol"),
    # ------------------------------------------------------------------ the engine
    Case("prompt_tune", "model callable", lambda: prompt_tune(lambda Z: Z, X, Y, 1), TypeError,
         "model"),
    Case("prompt_tune", "model with other layers",
         lambda: prompt_tune(Transformer([torch.nn.Identity()]), X, Y, 1), TypeError, "model"),
    Case("prompt_tune", "X 2-d", lambda: prompt_tune(MODEL, X[0], Y, 1), ValueError, "X"),
    Case("prompt_tune", "Y too many columns",
         lambda: prompt_tune(MODEL, X, torch.zeros(2, 3, 3, dtype=F64), 1), ValueError, "Y"),
    Case("prompt_tune", "Y nan", lambda: prompt_tune(MODEL, X, nan_like(Y), 1), ValueError, "Y"),
    Case("prompt_tune", "prompt_length zero", lambda: prompt_tune(MODEL, X, Y, 0), ValueError,
         "prompt_length"),
    Case("prompt_tune", "prompt_length repeated", lambda: prompt_tune(MODEL, X, Y, [2, 2]),
         ValueError, "prompt_length"),
    Case("prompt_tune", "prompt_length empty", lambda: prompt_tune(MODEL, X, Y, []), ValueError,
         "prompt_length"),
    Case("prompt_tune", "prompt_length tensor",
         lambda: prompt_tune(MODEL, X, Y, torch.tensor([1])), TypeError, "prompt_length"),
    Case("prompt_tune", "steps negative", lambda: prompt_tune(MODEL, X, Y, 1, steps=-1),
         ValueError, "steps"),
    Case("prompt_tune", "restarts zero", lambda: prompt_tune(MODEL, X, Y, 1, restarts=0),
         ValueError, "restarts"),
    Case("prompt_tune", "seed negative", lambda: prompt_tune(MODEL, X, Y, 1, seed=-3),
         ValueError, "seed"),
    Case("prompt_tune", "optimizer unknown", lambda: prompt_tune(MODEL, X, Y, 1, optimizer="sgd"),
         ValueError, "optimizer"),
    Case("prompt_tune", "lr zero", lambda: prompt_tune(MODEL, X, Y, 1, lr=0.0), ValueError, "lr"),
    Case("prompt_tune", "max_norm negative", lambda: prompt_tune(MODEL, X, Y, 1, max_norm=-1.0),
         ValueError, "max_norm"),
    Case("prompt_tune", "init wrong count",
         lambda: prompt_tune(MODEL, X, Y, [1, 2], restarts=1,
                             init=[torch.zeros(1, 3, 1, dtype=F64)]),
         ValueError, "init"),
    Case("prompt_tune", "init wrong shape",
         lambda: prompt_tune(MODEL, X, Y, 2, restarts=1, init=[torch.zeros(1, 3, 1, dtype=F64)]),
         ValueError, "init"),
    Case("prompt_tune", "init wrong restarts",
         lambda: prompt_tune(MODEL, X, Y, 1, restarts=2, init=[torch.zeros(1, 3, 1, dtype=F64)]),
         ValueError, "init"),
    Case("prompt_tune", "positions too short",
         lambda: prompt_tune(build_transformer(3, max_len=3, seed=0), X, X, 2, steps=1),
         ValueError, "prompt_length"),
    Case("initial_prompts", "d zero", lambda: initial_prompts(0, 1, 1), ValueError, "d"),
    Case("initial_prompts", "prompt_length float", lambda: initial_prompts(3, 1.5, 1), TypeError,
         "prompt_length"),
    Case("initial_prompts", "restarts zero", lambda: initial_prompts(3, 1, 0), ValueError,
         "restarts"),
    Case("initial_prompts", "init_scale negative",
         lambda: initial_prompts(3, 1, 1, init_scale=-1.0), ValueError, "init_scale"),
    Case("initial_prompts", "seed string", lambda: initial_prompts(3, 1, 1, seed="0"), TypeError,
         "seed"),
    Case("check_dataset", "model not a module", lambda: check_dataset("m", X, Y), TypeError,
         "model"),
    Case("check_dataset", "X empty", lambda: check_dataset(MODEL, X[:0], Y[:0]), ValueError, "X"),
    Case("check_dataset", "Y list", lambda: check_dataset(MODEL, X, Y.tolist()), TypeError, "Y"),
    Case("fit_loss", "outputs list", lambda: fit_loss([[1.0]], Y), TypeError, "outputs"),
    Case("fit_loss", "outputs 2-d", lambda: fit_loss(X[0], Y), ValueError, "outputs"),
    Case("fit_loss", "Y wrong count", lambda: fit_loss(X, Y[:1]), ValueError, "Y"),
    Case("fit_loss", "Y wrong rows", lambda: fit_loss(X, Y[:, :2]), ValueError, "Y"),
    # ------------------------------------------------------------- LoRA, fine-tuning
    Case("lora_fit", "rank zero", lambda: lora_fit(MODEL, X, Y, 0), ValueError, "rank"),
    Case("lora_fit", "rank float", lambda: lora_fit(MODEL, X, Y, 2.0), TypeError, "rank"),
    Case("lora_fit", "method unknown", lambda: lora_fit(MODEL, X, Y, 1, method="svd"),
         ValueError, "method"),
    Case("lora_fit", "weight unknown", lambda: lora_fit(MODEL, X, Y, 1, weight="W_1"),
         ValueError, "weight"),
    Case("lora_fit", "weight not W_V in closed form",
         lambda: lora_fit(MODEL, X, Y, 1, weight="W_Q"), ValueError, "weight"),
    Case("lora_fit", "layer not attention", lambda: lora_fit(MODEL, X, Y, 1, layer=1),
         ValueError, "layer"),
    Case("lora_fit", "layer out of range",
         lambda: lora_fit(MODEL, X, Y, 1, method="train", layer=5), ValueError, "layer"),
    Case("lora_fit", "model two heads", lambda: lora_fit(TWO_HEADS, X, Y, 1), ValueError,
         "model"),
    Case("lora_fit", "model deep in closed form", lambda: lora_fit(DEEP, XC, YC, 1), ValueError,
         "model"),
    Case("lora_fit", "steps negative", lambda: lora_fit(MODEL, X, Y, 1, steps=-1), ValueError,
         "steps"),
    Case("lora_fit", "X nan", lambda: lora_fit(MODEL, nan_like(X), Y, 1), ValueError, "X"),
    Case("fine_tune", "model not a module", lambda: fine_tune(None, X, Y), TypeError, "model"),
    Case("fine_tune", "steps float", lambda: fine_tune(MODEL, X, Y, steps=1.0), TypeError,
         "steps"),
    Case("fine_tune", "Y wrong rows", lambda: fine_tune(MODEL, X, Y[:, :1]), ValueError, "Y"),
    Case("batched_lbfgs", "fg not callable", lambda: optim.batched_lbfgs(None, X[0], 1),
         TypeError, "fg"),
    Case("batched_lbfgs", "x0 3-d", lambda: optim.batched_lbfgs(lambda x: x, X, 1), ValueError,
         "x0"),
    Case("batched_lbfgs", "steps negative",
         lambda: optim.batched_lbfgs(lambda x: x, X[0], -1), ValueError, "steps"),
    Case("batched_lbfgs", "history zero",
         lambda: optim.batched_lbfgs(lambda x: x, X[0], 1, history=0), ValueError, "history"),
    Case("on_one_thread", "fn not callable", lambda: optim.on_one_thread(3), TypeError, "fn"),
    # --------------------------------------------------------------- counting bound
    Case("counting_lower_bound", "d zero", lambda: counting_lower_bound(0, 1, 0.1, 8),
         ValueError, "d"),
    Case("counting_lower_bound", "L float", lambda: counting_lower_bound(1, 1.0, 0.1, 8),
         TypeError, "L"),
    Case("counting_lower_bound", "eps zero", lambda: counting_lower_bound(1, 1, 0.0, 8),
         ValueError, "eps"),
    Case("counting_lower_bound", "eps too large", lambda: counting_lower_bound(1, 1, 0.3, 8),
         ValueError, "eps"),
    Case("counting_lower_bound", "bits zero", lambda: counting_lower_bound(1, 1, 0.1, 0),
         ValueError, "bits"),
    Case("counting_lower_bound", "lipschitz negative",
         lambda: counting_lower_bound(1, 1, 0.1, 8, lipschitz=-1.0), ValueError, "lipschitz"),
    Case("prompt_bits_needed", "eps nan", lambda: prompt_bits_needed(1, 1, NAN), ValueError,
         "eps"),
    Case("prompt_bits_needed", "d bool", lambda: prompt_bits_needed(True, 1, 0.1), TypeError,
         "d"),
    Case("grid_points_per_coordinate", "eps quarter", lambda: grid_points_per_coordinate(0.25),
         ValueError, "eps"),
    Case("grid_points_per_coordinate", "lipschitz string",
         lambda: grid_points_per_coordinate(0.1, "1"), TypeError, "lipschitz"),
    Case("bump_dataset", "d zero", lambda: bump_dataset(0, 0.1), ValueError, "d"),
    Case("bump_dataset", "eps string", lambda: bump_dataset(1, "0.1"), TypeError, "eps"),
    Case("bump_dataset", "eps too fine", lambda: bump_dataset(4, 0.01), ValueError, "eps"),
    Case("bump_dataset", "seed negative", lambda: bump_dataset(1, 0.1, seed=-1), ValueError,
         "seed"),
    Case("lipschitz_dataset", "n zero", lambda: lipschitz_dataset(0, 2, 2), ValueError, "n"),
    Case("lipschitz_dataset", "L float", lambda: lipschitz_dataset(3, 2, 2.0), TypeError, "L"),
    Case("lipschitz_dataset", "lipschitz zero",
         lambda: lipschitz_dataset(3, 2, 2, lipschitz=0.0), ValueError, "lipschitz"),
    Case("lipschitz_dataset", "seed negative", lambda: lipschitz_dataset(3, 2, 2, seed=-1),
         ValueError, "seed"),
    Case("embed_tokens", "X list", lambda: embed_tokens([1.0]), TypeError, "X"),
    Case("embed_tokens", "X 1-d", lambda: embed_tokens(torch.zeros(3)), ValueError, "X"),
    Case("lookup_model", "d zero", lambda: lookup_model(0), ValueError, "d"),
    Case("lookup_model", "sharpness zero", lambda: lookup_model(1, sharpness=0.0), ValueError,
         "sharpness"),
    Case("lookup_prompt", "X two columns",
         lambda: lookup_prompt(torch.zeros(2, 1, 2), torch.zeros(2, 1, 1)), ValueError, "X"),
    Case("lookup_prompt", "Y wrong count",
         lambda: lookup_prompt(torch.zeros(2, 1, 1), torch.zeros(3, 1, 1)), ValueError, "Y"),
    Case("lookup_prompt", "Y nan",
         lambda: lookup_prompt(torch.zeros(2, 1, 1), torch.full((2, 1, 1), NAN)), ValueError,
         "Y"),
    Case("memorize_by_lookup", "eps too large", lambda: memorize_by_lookup(1, 0.5), ValueError,
         "eps"),
    Case("memorize_by_lookup", "sharpness negative",
         lambda: memorize_by_lookup(1, 0.1, sharpness=-1.0), ValueError, "sharpness"),
    # ------------------------------------------------------------ invertible layers
    Case("residual_model", "blocks zero", lambda: residual_model(blocks=0), ValueError, "blocks"),
    Case("residual_model", "value_norm negative", lambda: residual_model(value_norm=-1.0),
         ValueError, "value_norm"),
    Case("residual_model", "key_norm nan", lambda: residual_model(key_norm=NAN), ValueError,
         "key_norm"),
    Case("residual_model", "ff_norm string", lambda: residual_model(ff_norm="0.1"), TypeError,
         "ff_norm"),
    Case("injectivity_bound", "radius negative", lambda: injectivity_bound(DEEP, -1.0),
         ValueError, "radius"),
    Case("injectivity_bound", "model not ptheory",
         lambda: injectivity_bound(torch.nn.Linear(3, 3), 1.0), TypeError, "model"),
    Case("injectivity_bound", "model with positions",
         lambda: injectivity_bound(build_transformer(3, max_len=4), 1.0), ValueError, "model"),
    Case("collision_dataset", "L zero", lambda: collision_dataset(DEEP, L=0), ValueError, "L"),
    Case("collision_dataset", "model list", lambda: collision_dataset([DEEP]), TypeError, "model"),
    Case("injectivity_lower_bound", "Y not common",
         lambda: injectivity_lower_bound(DEEP, XC, XC, 1.0), ValueError, "Y"),
    Case("injectivity_lower_bound", "X three inputs",
         lambda: injectivity_lower_bound(DEEP, XC[[0, 1, 1]], YC[[0, 1, 1]], 1.0), ValueError,
         "X"),
    Case("injectivity_lower_bound", "max_norm negative",
         lambda: injectivity_lower_bound(DEEP, XC, YC, -2.0), ValueError, "max_norm"),
    Case("min_expansion", "radius string", lambda: min_expansion(DEEP, "2"), TypeError, "radius"),
    Case("min_expansion", "n_pairs one", lambda: min_expansion(DEEP, 2.0, n_pairs=1), ValueError,
         "n_pairs"),
    Case("min_expansion", "prompt_length zero",
         lambda: min_expansion(DEEP, 2.0, prompt_length=0), ValueError, "prompt_length"),
    # ------------------------------------------------------------------- figures
    Case("plot_rays", "prompt wrong rows", lambda: plot_rays(MODEL, X, Y, torch.zeros(2, 4)),
         ValueError, "prompt"),
    Case("plot_rays", "X three examples",
         lambda: plot_rays(MODEL, X[[0, 1, 1]], Y[[0, 1, 1]]), ValueError, "X"),
    Case("plot_rays", "ax not an Axes", lambda: plot_rays(MODEL, X, Y, ax="left"), TypeError,
         "ax"),
    Case("plot_loss_by_length", "result dict", lambda: plot_loss_by_length({}, 0.5), TypeError,
         "result"),
    Case("plot_loss_by_length", "bound negative", lambda: plot_loss_by_length(RESULT, -1.0),
         ValueError, "bound"),
    Case("plot_loss_by_length", "baselines list",
         lambda: plot_loss_by_length(RESULT, 0.5, [1e-3]), TypeError, "baselines"),
    Case("plot_loss_by_length", "baselines nan",
         lambda: plot_loss_by_length(RESULT, 0.5, {"x": NAN}), ValueError, "baselines"),
    Case("plot_loss_by_norm", "lengths differ",
         lambda: plot_loss_by_norm([1.0, 2.0], [0.1], [0.0]), ValueError, "max_norms"),
    Case("plot_loss_by_norm", "max_norms empty", lambda: plot_loss_by_norm([], [], []),
         ValueError, "max_norms"),
    Case("plot_loss_by_norm", "losses nan", lambda: plot_loss_by_norm([1.0], [NAN], [0.0]),
         ValueError, "losses"),
    Case("plot_loss_by_norm", "unbounded negative",
         lambda: plot_loss_by_norm([1.0], [0.1], [0.0], unbounded=-1.0), ValueError, "unbounded"),
    Case("plot_counting_bound", "eps_values empty", lambda: plot_counting_bound([], 3, 8),
         ValueError, "eps_values"),
    Case("plot_counting_bound", "max_dl zero", lambda: plot_counting_bound([0.1], 0, 8),
         ValueError, "max_dl"),
    Case("plot_counting_bound", "bits zero", lambda: plot_counting_bound([0.1], 3, 0), ValueError,
         "bits"),
    Case("plot_parameters", "curves empty", lambda: plot_parameters({}), TypeError, "curves"),
    Case("plot_parameters", "curves not pairs", lambda: plot_parameters({"a": [1.0]}),
         TypeError, "curves"),
    Case("plot_parameters", "curves lengths differ",
         lambda: plot_parameters({"a": ([1.0, 2.0], [0.1])}), ValueError, "curves"),
    Case("plot_construction", "reports empty", lambda: plot_construction([]), TypeError,
         "reports"),
    Case("plot_construction", "reports of numbers", lambda: plot_construction([1, 2]), TypeError,
         "reports"),
]  # fmt: skip

RESULT_CLASSES = {
    "FitResult",
    "InjectivityBound",
    "LoRAResult",
    "LookupReport",
    "PromptTuneResult",
}


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case):
    check_case(case)


def test_sweep_covers_every_public_callable():
    covered = {c.target for c in CASES}
    missing = public_callables(capacity) - covered - RESULT_CLASSES
    missing |= {"batched_lbfgs", "on_one_thread"} - covered
    assert not missing, f"no bad-input case for {sorted(missing)}"
    assert RESULT_CLASSES <= public_callables(capacity)


def test_case_ids_are_unique():
    ids = [(c.target, c.desc) for c in CASES]
    assert len(ids) == len(set(ids))


def test_names_match_real_parameters():
    for c in CASES:
        obj = getattr(capacity, c.target, None) or getattr(optim, c.target)
        if c.target == "RayGeometry":
            obj = obj.ray_points
        assert c.name in inspect.signature(obj).parameters, (c.target, c.name)


def test_result_classes_are_plain_records():
    """The classes left out of the sweep take no input a function did not already check."""
    assert isinstance(Attention(2, seed=0), torch.nn.Module)  # the sweep imports work
    for name in RESULT_CLASSES:
        assert hasattr(getattr(capacity, name), "__dataclass_fields__"), name
