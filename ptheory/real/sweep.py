"""The comparison of the chapter ``real_soft_prompts``, too long for a chapter: the sweep.

Every method of :mod:`ptheory.real.memorize` is tuned on memorization tasks of growing
size ``N``, from 5 initialisation seeds on 3 task seeds (15 runs a point; one tuned layer
starts at the pretrained weights, so it has 3), with L-BFGS for :data:`BUDGET` function
evaluations. Three studies:

- ``"capacity"``: the learning curves, for ``N`` on both sides of the point where the
  task's ``N T k`` targets exceed each method's parameters (:data:`PLAN`);
- ``"race"``: Adam for :data:`RACE_STEPS` steps at each method's best rate of a grid
  (chosen on a held-out task by one rule), at ``N = 4``: what a fixed budget shows;
- ``"stall"``: the one-token prompt on a small task (``N = 16`` sequences read out at
  ``[CLS]`` by 8 numbers: 128 targets, 384 parameters), with L-BFGS and with 20 Adam
  steps, and the singular values of the Jacobian of its 128 outputs at the end;
- ``"jacobian"``: the same singular values for LoRA on layer 1 and the 4-token prompt
  (1,536 parameters each) at the end of their L-BFGS runs on ``N = 1`` (768 targets);
- ``"rays"``: the ray dataset of :mod:`ptheory.real.rays` at the level of the whole model
  (radius :data:`RAY_RADIUS`), with the same-direction dataset and the dataset that asks
  for no change, and at the level of the first layer (ray and same-direction datasets),
  fitted by a soft prompt and by a prefix of 4 tokens (L-BFGS, :data:`RAY_BUDGET`
  evaluations, three seeds).

Run it (hours on two CPU cores)::

    python -m ptheory.real.sweep --jobs 2 --log sweep.jsonl
    python -m ptheory.real.sweep --log sweep.jsonl --write ptheory/real/sweep_results.py

Each run appends one JSON line to the log, so an interrupted sweep resumes where it
stopped. ``--write`` turns the log into :mod:`ptheory.real.sweep_results`, the file the
chapter loads; :func:`reproduce` re-runs one logged run (the chapter re-runs a cheap one
as a check that the committed numbers reproduce).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._validate import check_int

__all__ = [
    "BUDGET",
    "INITS",
    "PLAN",
    "RACE_GRIDS",
    "TASKS",
    "Run",
    "plan_runs",
    "reproduce",
    "run_one",
]

BUDGET = 400
"""L-BFGS function evaluations per run."""
RACE_STEPS = 100
"""Adam steps per run of the race."""
TASKS = (0, 1, 2)
"""Task seeds (the words, the readout and the targets)."""
INITS = (0, 1, 2, 3, 4)
"""Initialisation seeds (a prompt's or prefix's start words, LoRA's ``A``)."""
TASK_KW: dict[str, Any] = {"words": 2, "outputs": 192, "columns": "all", "scale": 0.25}
"""The capacity and race tasks: ``N`` sequences of 4 tokens, 192 numbers read out of each
of them: ``768 N`` targets."""
STALL_KW: dict[str, Any] = {"words": 2, "outputs": 8, "columns": "cls", "scale": 1.0}
"""The stall study's task: 8 numbers read out at ``[CLS]``, noise of the outputs' spread."""
STALL_N = 16

PLAN: dict[tuple[str, int | None], tuple[int, ...]] = {
    ("prompt", 1): (1, 2, 4),
    ("prompt", 4): (1, 2, 4),
    ("lora_first", 1): (1, 2, 4),
    ("prefix", 1): (4, 8),
    ("lora", 1): (8, 16),
    ("layer", None): (1, 2, 4, 8, 16),
    ("prompt", 16): (4, 12),
}
"""``(method, size) -> N`` of the capacity study (cheap runs first)."""
CUT: tuple[tuple[str, int | None, int, int, tuple[int, ...]], ...] = (
    ("prompt", 4, 2, 0, (0, 1, 2)),
    ("lora_first", 1, 2, 0, (0, 1, 2)),
    ("prompt", 4, 4, 0, (0, 1, 2)),
    ("lora_first", 1, 4, 0, (0, 1, 2)),
    ("prompt", 16, 4, 0, (0, 1)),
    ("prefix", 1, 4, 0, (0,)),
    ("prefix", 1, 8, 0, (0,)),
    ("prefix", 1, 4, 0, (1,)),
    ("prefix", 1, 8, 0, (1,)),
    ("prompt", 16, 4, 0, (2,)),
    ("prefix", 1, 4, 0, (2,)),
    ("prefix", 1, 8, 0, (2,)),
    ("prompt", 4, 2, 1, (0,)),
    ("lora_first", 1, 2, 1, (0,)),
    ("prompt", 4, 2, 2, (0,)),
    ("lora_first", 1, 2, 2, (0,)),
    ("prompt", 4, 4, 1, (0,)),
    ("lora_first", 1, 4, 1, (0,)),
    ("prompt", 4, 4, 2, (0,)),
    ("lora_first", 1, 4, 2, (0,)),
    ("prompt", 4, 2, 0, (3, 4)),
    ("lora_first", 1, 2, 0, (3, 4)),
    ("prompt", 4, 2, 1, (1, 2, 3, 4)),
    ("lora_first", 1, 2, 1, (1, 2, 3, 4)),
    ("prompt", 4, 2, 2, (1, 2, 3, 4)),
    ("lora_first", 1, 2, 2, (1, 2, 3, 4)),
    ("prompt", 4, 4, 0, (3, 4)),
    ("lora_first", 1, 4, 0, (3, 4)),
    ("prompt", 4, 4, 1, (1, 2, 3, 4)),
    ("lora_first", 1, 4, 1, (1, 2, 3, 4)),
    ("prompt", 4, 4, 2, (1, 2, 3, 4)),
    ("lora_first", 1, 4, 2, (1, 2, 3, 4)),
)
"""The capacity study as cut to what fits on one core in under an hour: ``(method, size,
N, task seed, init seeds)``, for the methods whose parameters the task's targets
cross at small ``N`` (the 4-token prompt and LoRA on layer 1 at ``N = 2``, the 1-token
prefix at ``N = 6``); their ``N = 1`` points are the Jacobian study's runs (the same
runs)."""
RACE_N = 4
RACE_GRIDS: dict[str, tuple[float, ...]] = {
    "prompt": (0.01, 0.03, 0.1, 0.3, 1.0),
    "prefix": (0.01, 0.03, 0.1, 0.3),
    "lora_first": (1e-3, 3e-3, 1e-2, 3e-2),
    "lora": (1e-3, 3e-3, 1e-2, 3e-2),
    "layer": (1e-5, 3e-5, 1e-4, 3e-4),
}
"""Adam's rate grid per method; each gets its best rate on the held-out task."""
HELD_OUT = 99
"""The held-out task seed on which the race's rates are chosen."""
STALL_ADAM = (20, 0.3)
"""The short budget for the one-token prompt: 20 Adam steps at rate 0.3."""
RAY_RADIUS = 30.0
"""The ray datasets' radius (in units of ``||b_1 - b_2||``), as in the chapter."""
RAY_BUDGET = 400
RAY_SEEDS = (0, 1, 2)
RAY_DATASETS = ("ray", "same", "null")


def ray_data(seed: int, dataset: str) -> Any:
    """The ray dataset of ``seed`` (radius :data:`RAY_RADIUS`), turned around
    (``"same"``) or asking for no change (``"null"``, offsets zero)."""
    from dataclasses import replace

    from .rays import ray_dataset

    same = dataset == "same"
    data = ray_dataset(_encoder(), seed, radius=RAY_RADIUS, same_direction=same)
    if dataset == "null":
        data = replace(data, offsets=torch.zeros_like(data.offsets))
    return data


def _ray_key(kind: str, dataset: str, seed: int, level: str = "model") -> str:
    return f"rays/{kind}/4/{dataset}/s={seed}/{level}/lbfgs/{RAY_BUDGET}"


def _run_ray(job: tuple[str, ...]) -> dict[str, Any]:
    from .rays import fit_prompts, no_prompt_loss

    torch.set_num_threads(1)
    kind, dataset, seed, level = (*job, "model")[:4]
    data = ray_data(seed, dataset)
    start = time.perf_counter()
    curve = fit_prompts(_encoder(), [data], level, 4, kind=kind, steps=RAY_BUDGET,
                        optimizer="lbfgs")[:, 0]  # fmt: skip
    return {
        "key": _ray_key(kind, dataset, seed, level),
        "study": "rays",
        "kind": kind,
        "dataset": dataset,
        "seed": seed,
        "level": level,
        "base": no_prompt_loss(_encoder(), ray_data(seed, "ray"), level),
        "own_base": no_prompt_loss(_encoder(), data, level),
        "curve": [float(f"{x:.6g}") for x in curve.tolist()],
        "seconds": round(time.perf_counter() - start, 1),
    }


@dataclass(frozen=True)
class Run:
    """One run of the sweep: its study, method, size, ``N``, seeds and optimiser."""

    study: str
    method: str
    size: int | None
    n: int
    task: int
    init: int
    optimizer: str = "lbfgs"
    steps: int = BUDGET
    lr: float | None = None

    @property
    def key(self) -> str:
        """A unique name of the run (the log's key)."""
        lr = "" if self.lr is None else f"/lr={self.lr:g}"
        return (f"{self.study}/{self.method}/{self.size}/N={self.n}/t={self.task}/"
                f"i={self.init}/{self.optimizer}/{self.steps}{lr}")  # fmt: skip


def _inits(method: str) -> tuple[int, ...]:
    return (0,) if method == "layer" else INITS


def plan_runs(study: str, lrs: dict[str, float] | None = None) -> list[Run]:
    """The runs of ``study`` (``"capacity"``, ``"grid"``, ``"race"`` or ``"stall"``);
    the race needs the rates ``lrs`` chosen on the grid."""
    if study == "cut":
        return [Run("capacity", m, s, n, t, i) for m, s, n, t, inits in CUT for i in inits]
    if study == "capacity":
        return [Run("capacity", m, s, n, t, i) for (m, s), ns in PLAN.items() for n in ns
                for t in TASKS for i in _inits(m)]  # fmt: skip
    if study == "grid":
        return [Run("grid", m, s, RACE_N, HELD_OUT, 0, "adam", RACE_STEPS, lr)
                for (m, s) in _race_methods() for lr in RACE_GRIDS[m]]  # fmt: skip
    if study == "race":
        if lrs is None:
            raise ValueError("lrs must give the race's rate per method")
        return [Run("race", m, s, RACE_N, t, i, "adam", RACE_STEPS, lrs[f"{m}/{s}"])
                for (m, s) in _race_methods() for t in TASKS for i in _inits(m)]  # fmt: skip
    if study == "jacobian":
        return [Run("jacobian", m, s, 1, t, i) for m, s in (("lora_first", 1), ("prompt", 4))
                for t in TASKS for i in INITS]  # fmt: skip
    if study == "stall":
        steps, lr = STALL_ADAM
        return [Run("stall", "prompt", 1, STALL_N, t, i, o, b, r) for t in TASKS for i in INITS
                for o, b, r in (("lbfgs", BUDGET, None), ("adam", steps, lr))]  # fmt: skip
    raise ValueError(f"study must be capacity, grid, race, stall or jacobian, got {study!r}")


def _race_methods() -> list[tuple[str, int | None]]:
    return [("prompt", 1), ("prompt", 4), ("prompt", 16), ("prefix", 1), ("lora_first", 1),
            ("lora", 1), ("layer", None)]  # fmt: skip


_ENC: Any = None


def _encoder() -> Any:
    global _ENC
    if _ENC is None:
        from .loader import load_encoder

        _ENC = load_encoder()
    return _ENC


def _task(run: Run) -> Any:
    from .memorize import memorization_task

    kw = STALL_KW if run.study == "stall" else TASK_KW
    return memorization_task(_encoder(), run.n, run.task, **kw)


def _jacobian_spectrum(enc: Any, task: Any, P: torch.Tensor) -> list[float]:
    """The singular values of the Jacobian of the task's outputs in the prompt ``P``."""
    from .prompted import encode

    def outputs(p: torch.Tensor) -> torch.Tensor:
        return task.read(encode(enc, task.ids, p).outputs).reshape(-1)

    J = torch.autograd.functional.jacobian(outputs, P, vectorize=True)
    return torch.linalg.svdvals(J.reshape(task.size, -1).double()).tolist()


def run_one(run: Run) -> dict[str, Any]:
    """Run ``run`` and return its log record (the curve, the seconds it took)."""
    from .memorize import tune

    enc, task = _encoder(), _task(run)
    start = time.perf_counter()
    result = tune(enc, task, run.method, run.size, init=run.init, optimizer=run.optimizer,
                  steps=run.steps, lr=run.lr)  # fmt: skip
    record: dict[str, Any] = {
        "key": run.key,
        "study": run.study,
        "method": run.method,
        "size": run.size,
        "n": run.n,
        "task": run.task,
        "init": run.init,
        "optimizer": run.optimizer,
        "steps": run.steps,
        "lr": run.lr,
        "parameters": result.parameters,
        "targets": result.targets,
        "curve": [float(f"{x:.6g}") for x in result.curve.tolist()],
        "seconds": round(time.perf_counter() - start, 1),
    }
    if run.study == "stall" and run.optimizer == "lbfgs":
        record["spectrum"] = [float(f"{x:.6g}") for x in _final_spectrum(enc, task, run)]
    if run.study == "jacobian":
        record["spectrum"] = [float(f"{x:.6g}") for x in _last_spectrum()]
    return record


def _last_spectrum() -> list[float]:
    """The singular values of the Jacobian of the last run's outputs with respect to its
    trainable parameters, at the run's end point."""
    from ..model import torch_threads
    from .memorize import _LAST

    params, outputs = _LAST
    with torch_threads(1):
        out = outputs().reshape(-1)
        rows = torch.autograd.grad(out, params, grad_outputs=torch.eye(out.numel()),
                                   is_grads_batched=True)  # fmt: skip
        J = torch.cat([r.reshape(out.numel(), -1) for r in rows], dim=1).double()
        return torch.linalg.svdvals(J).tolist()


def _final_spectrum(enc: Any, task: Any, run: Run) -> list[float]:
    """Re-run the one-token prompt to its end point and take the Jacobian's spectrum."""
    from ..model import torch_threads
    from .prompted import encode, word_prompt

    with torch_threads(1):
        P = word_prompt(enc, 1, seed=run.init).clone().requires_grad_(True)
        opt = torch.optim.LBFGS([P], lr=1.0, max_iter=run.steps, max_eval=run.steps,
                                history_size=20, line_search_fn="strong_wolfe",
                                tolerance_grad=0.0, tolerance_change=0.0)  # fmt: skip

        def closure() -> torch.Tensor:
            opt.zero_grad()
            value = task.relative_loss(task.read(encode(enc, task.ids, P).outputs))
            value.backward()
            return value

        opt.step(closure)
        return _jacobian_spectrum(enc, task, P.detach())


def reproduce(record: dict[str, Any], steps: int | None = None) -> list[float]:
    """Re-run the logged run ``record`` (for its first ``steps`` evaluations or steps if
    given) and return its curve."""
    run = Run(record["study"], record["method"], record["size"], record["n"], record["task"],
              record["init"], record["optimizer"], record["steps"] if steps is None else
              check_int(steps, "steps", minimum=1), record["lr"])  # fmt: skip
    return run_one(run)["curve"]


_ALSO: list[Path] = []
"""Other logs whose runs count as done (``--also``): a second sweep process writes its
own log, and ``--write`` reads them all."""


def _read_log(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in (path, *_ALSO):
        if not p.is_file():
            continue
        for line in p.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec["key"]] = rec
    return out


def _work(run: Run) -> dict[str, Any]:
    torch.set_num_threads(1)
    return run_one(run)


def _execute(runs: Sequence[Run], log: Path, jobs: int) -> None:
    done = _read_log(log)
    todo = [r for r in runs if r.key not in done]
    print(f"{len(runs) - len(todo)} of {len(runs)} runs logged; {len(todo)} to go", flush=True)
    if not todo:
        return
    results: Iterable[dict[str, Any]]
    if jobs == 1:
        results = map(_work, todo)
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(jobs)
        results = pool.imap(_work, todo)
    with log.open("a") as f:
        for k, rec in enumerate(results, start=1):
            f.write(json.dumps(rec) + "\n")
            f.flush()
            print(f"[{k}/{len(todo)}] {rec['key']}: {min(rec['curve']):.4g} "
                  f"({rec['seconds']} s)", flush=True)  # fmt: skip
    if jobs != 1:
        pool.close()
        pool.join()


def _execute_rays(jobs: Sequence[tuple[str, ...]], log: Path, n_jobs: int) -> None:
    done = _read_log(log)
    todo = [j for j in jobs if _ray_key(*j) not in done]
    print(f"rays: {len(jobs) - len(todo)} of {len(jobs)} logged", flush=True)
    if not todo:
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(n_jobs) as pool, log.open("a") as f:
        for rec in pool.imap(_run_ray, todo):
            f.write(json.dumps(rec) + "\n")
            f.flush()
            print(f"{rec['key']}: {min(rec['curve']) / rec['base']:.3g} of the ray base "
                  f"({rec['seconds']} s)", flush=True)  # fmt: skip


def best_rates(log: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The race's rate per method: the best final loss on the held-out task (ties: the
    smaller rate)."""
    rates: dict[str, tuple[float, float]] = {}
    for rec in log.values():
        if rec["study"] != "grid":
            continue
        name = f"{rec['method']}/{rec['size']}"
        final = rec["curve"][-1]
        final = math.inf if not math.isfinite(final) else final
        if name not in rates or (final, rec["lr"]) < rates[name]:
            rates[name] = (final, rec["lr"])
    return {k: v[1] for k, v in rates.items()}


_CHECKPOINTS = (0, 10, 20, 50, 100, 150, 200, 250, 300, 350, 400)


def _summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A log record reduced to what the chapter reads: the best loss so far at fixed
    evaluations (and the whole curve of the race's and the stall's short runs)."""
    curve = rec["curve"]
    best = [min(curve[: i + 1]) for i in range(len(curve))]
    out = {k: rec[k] for k in ("study", "method", "size", "n", "task", "init", "optimizer",
                                "steps", "lr", "parameters", "targets", "seconds")}  # fmt: skip
    # at the budget: the lowest loss of the run (L-BFGS may stop a few evaluations short)
    out["best"] = {str(c): best[min(c, len(best) - 1)] for c in _CHECKPOINTS if c <= rec["steps"]}
    out["best"][str(rec["steps"])] = best[-1]
    out["final"] = curve[-1]
    out["evaluations"] = len(curve)
    if rec["study"] == "stall" and rec["optimizer"] == "adam":
        out["curve"] = curve
    if "spectrum" in rec:
        from .comparison import numerical_rank

        out["rank"] = numerical_rank(rec["spectrum"])
        # the whole spectrum for the figures: the stall's runs and the Jacobian study's
        # runs on task 0 (the file stays small)
        if rec["study"] == "stall" or rec["task"] == 0:
            out["spectrum"] = [float(f"{x:.4g}") for x in rec["spectrum"]]
    return out


def _ray_summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A ray run reduced to its lowest loss so far at the checkpoints and at its end."""
    out = {k: v for k, v in rec.items() if k not in ("key", "curve")}
    best = [min(rec["curve"][: i + 1]) for i in range(len(rec["curve"]))]
    out["best"] = {str(c): best[min(c, len(best) - 1)] for c in _CHECKPOINTS}
    out["best"][str(len(best) - 1)] = best[-1]
    out["min"] = best[-1]
    return out


def write_results(log: Path, out: Path) -> None:
    """Write the summaries of every logged run as the module the chapter imports."""
    everything = sorted(_read_log(log).values(), key=lambda r: r["key"])
    rates = best_rates({r["key"]: r for r in everything})
    # the race at each method's chosen rate only (a wider grid may have moved it)
    records = [
        r
        for r in everything
        if r["study"] not in ("rays", "race")
        or (r["study"] == "race" and r["lr"] == rates[f"{r['method']}/{r['size']}"])
    ]
    # the Jacobian study's runs are the capacity study's runs at N = 1 (same task, budget
    # and optimiser): they count as both
    records += [{k: v for k, v in r.items() if k != "spectrum"} | {"study": "capacity"}
                for r in everything if r["study"] == "jacobian"]  # fmt: skip
    rays = [_ray_summary(r) for r in everything if r["study"] == "rays"]
    data = {
        "budget": BUDGET,
        "race_steps": RACE_STEPS,
        "task": TASK_KW,
        "stall_task": STALL_KW,
        "race_rates": rates,
        "runs": [_summary(r) for r in records],
        "ray_radius": RAY_RADIUS,
        "ray_budget": RAY_BUDGET,
        "rays": rays,
    }
    text = json.dumps(data, separators=(",", ":"))
    lines = [text[i : i + 90] for i in range(0, len(text), 90)]
    body = "\n".join(f"    {_literal(line)}" for line in lines)
    out.write_text(
        '"""The sweep\'s results (written by ``python -m ptheory.real.sweep --write``; do not\n'
        'edit): :data:`RESULTS` holds every run of :mod:`ptheory.real.sweep`, summarised."""\n\n'
        "import json\n\n"
        f"RESULTS = json.loads(\n{body}\n)\n"
    )


def _literal(text: str) -> str:
    """A Python string literal of ``text`` as the formatter writes it (single quotes when
    that avoids escapes)."""
    if '"' in text and "'" not in text and "\\" not in text:
        return f"'{text}'"
    return json.dumps(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ptheory.real.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log", type=Path, default=Path("sweep.jsonl"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--studies", nargs="+", default=["grid", "race", "stall", "capacity"])
    parser.add_argument("--only", default=None,
                        help="only one method's runs, e.g. lora/1")  # fmt: skip
    parser.add_argument("--reverse", action="store_true",
                        help="run each study's runs last first (a second process)")  # fmt: skip
    parser.add_argument("--also", type=Path, nargs="*", default=[],
                        help="other logs whose runs count as done")  # fmt: skip
    parser.add_argument("--write", type=Path, default=None,
                        help="write the results module from the log and stop")  # fmt: skip
    args = parser.parse_args(argv)
    _ALSO[:] = args.also
    if args.write is not None:
        write_results(args.log, args.write)
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for study in args.studies:
        if study == "rays":
            jobs = [(k, d, s, "model") for k in ("prefix", "prompt") for d in RAY_DATASETS
                    for s in RAY_SEEDS]  # fmt: skip
            jobs += [(k, d, s, "layer") for k in ("prefix", "prompt") for d in ("ray", "same")
                     for s in RAY_SEEDS]  # fmt: skip
            _execute_rays(jobs, args.log, args.jobs)
        elif study == "race":
            lrs = best_rates(_read_log(args.log))
            _execute(plan_runs("race", lrs), args.log, args.jobs)
        else:
            runs = plan_runs(study)
            if args.only is not None:
                runs = [r for r in runs if f"{r.method}/{r.size}" == args.only]
            _execute(runs[::-1] if args.reverse else runs, args.log, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
