"""nbgrader's autograder, made safe for the book's exercises.

Two preprocessors replace what nbgrader would do in the student's kernel:

- :class:`SandboxedExecute` runs the notebook in a fresh sandboxed kernel
  (:class:`ptheory_grading.sandbox.SandboxKernelManager`) with a time limit per cell. A
  cell past its limit is interrupted; if the kernel does not come back (a loop that
  ignores interrupts, or C code), or if it dies (memory), the kernel is stopped and the
  cells after it are not run: what they would have recorded earns zero, and nbgrader goes
  on with the next submission. The whole notebook has a time limit too (many cells, each
  just under the cell's limit, would otherwise stall the grading of the class): past it,
  the kernel is stopped the same way. Each cell's output is capped, and so is the
  notebook's, so a flood of prints cannot exhaust the grader.
- :class:`GradeAnswers` runs after it, in the grader's own process. For each locked test
  cell of an auto-graded exercise (its ``grade_id`` is the exercise's label, in the
  course's manifest) it reads the one answer the cell recorded
  (:data:`ptheory.exercises.handin.ANSWER_MIME`), grades it with
  :func:`ptheory_grading.grade`, and replaces the cell's outputs with the verdict as
  nbgrader scores it: an error output for zero, a plain message for full marks, the
  points as the cell's result for partial credit. Whatever the kernel printed there (a
  patched traceback, a fake "Correct") is discarded; a missing, duplicated, foreign or
  oversized record earns zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from time import monotonic
from typing import Any

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Integer, Unicode

from ptheory.exercises.handin import ANSWER_MIME

from ._core import grade
from .sandbox import SandboxKernelManager

__all__ = ["GradeAnswers", "SandboxedExecute", "verdict_outputs"]

MAX_ANSWER_BYTES = 1 << 20
"""The largest recorded answer the grader reads (1 MiB of JSON)."""


class KernelStopped(Exception):
    """The kernel was stopped (or died): the rest of the notebook is not run."""


class SandboxedExecute(Execute):
    """nbgrader's Execute in a sandboxed kernel, robust to loops, crashes and floods."""

    interrupt_grace = Float(
        10.0, config=True, help="Seconds a timed-out cell has to stop after an interrupt."
    ).tag(config=True)
    max_output_bytes = Integer(
        1 << 20, config=True, help="Output kept per cell; the rest is dropped."
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        16 << 20, config=True, help="Output kept for the whole notebook; the rest is dropped."
    ).tag(config=True)
    notebook_timeout = Integer(
        900,
        config=True,
        help="Seconds the whole notebook may run (0: no limit); past it the kernel is stopped.",
    ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        self._stopped: str | None = None
        self._sizes: dict[int, int] = {}
        self._waiting: str | None = None
        self._reached = -1
        self._deadline: float | None = None
        self._clamped = False
        self._total = 0
        self._noted: set[int] = set()

    def _budget_note(self) -> str:
        return f"the notebook ran past its total time limit of {self.notebook_timeout} s"

    def _left(self) -> float | None:
        return None if self._deadline is None else self._deadline - monotonic()

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        timeout = super()._get_timeout(cell)
        left = self._left()
        self._clamped = False
        if left is not None and (timeout is None or left < timeout):
            self._clamped = True
            return max(1, int(left + 0.999))
        return timeout

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._stopped, self._sizes, self._reached = None, {}, -1
        self._total, self._noted = 0, set()
        self._deadline = None  # set when the first cell runs (the kernel's start is not counted)
        try:
            return super().preprocess(nb, resources, km)
        except Exception as error:
            if self._reached < 0:
                # The kernel did not start: no student code ran, so this is the grader's
                # failure, not the student's. nbgrader reports it and grades the others.
                raise
            self.log.warning("running the notebook failed: %s", error)  # shutting down
            why = getattr(self.km, "stop_reason", None) or f"{type(error).__name__}: {error}"
            reason = f"not run: {why}"[:300]
            self._stop_rest(nb, self._reached + 1, reason)
            return nb, resources

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        self._reached = index
        if self._deadline is None and self.notebook_timeout > 0:
            self._deadline = monotonic() + self.notebook_timeout
        left = self._left()
        if self._stopped is None and cell.cell_type == "code" and left is not None and left <= 0:
            self._stopped = f"not run: {self._budget_note()}"
            self._shutdown()
        if self._stopped is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", self._stopped)]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, KernelStopped, CellTimeoutError) as error:
            reason = getattr(self.km, "stop_reason", None) or str(error) or type(error).__name__
            cell.outputs = [*cell.get("outputs", []), _error("KernelStopped", reason)]
            self._stopped = f"not run: the kernel was stopped in an earlier cell ({reason})"
            self._shutdown()
            return cell, resources

    def _stop_rest(self, nb: NotebookNode, start: int, reason: str) -> None:
        for cell in nb.cells[start:]:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", reason)]

    def _shutdown(self) -> None:
        try:
            if self.km is not None and run_sync(self.km._async_is_alive)():
                run_sync(self.km._async_shutdown_kernel)(now=True)
        except Exception:  # already dead
            self.log.warning("the stopped kernel could not be shut down cleanly")

    async def _async_poll_for_reply(self, msg_id: str, *args: Any, **kwargs: Any) -> Any:
        self._waiting = msg_id
        return await super()._async_poll_for_reply(msg_id, *args, **kwargs)

    async def _async_handle_timeout(
        self, timeout: int, cell: NotebookNode | None = None
    ) -> dict[str, Any] | None:
        assert self.km is not None and self.kc is not None
        if self._clamped:  # the notebook's time is up: nothing after this cell runs
            self.log.warning("%s: stopping the kernel", self._budget_note())
            await self.km._async_shutdown_kernel(now=True)
            raise KernelStopped(self._budget_note())
        self.log.warning("a cell ran past %s s: interrupting the kernel", timeout)
        await self.km._async_interrupt_kernel()
        deadline = monotonic() + self.interrupt_grace
        while (left := deadline - monotonic()) > 0:
            try:
                msg = await self.kc._async_get_shell_msg(timeout=left)
            except Exception:  # queue.Empty: no reply in time
                break
            if msg["parent_header"].get("msg_id") == self._waiting:
                return msg  # the kernel survived: the cell ends with KeyboardInterrupt
        self.log.warning("the kernel ignored the interrupt: stopping it")
        await self.km._async_shutdown_kernel(now=True)
        raise KernelStopped(f"a cell ran past its time limit of {timeout} s")

    def output(
        self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = len(json.dumps(msg.get("content", {}), default=str))
        total = self._sizes.get(cell_index, 0) + size
        self._sizes[cell_index] = total
        if total > self.max_output_bytes or self._total + size > self.max_notebook_output_bytes:
            if cell_index not in self._noted:  # one note per cell
                self._noted.add(cell_index)
                note = "(output past the grader's limit was dropped)\n"
                outs.append(new_output("stream", name="stdout", text=note))
            return None
        self._total += size  # what is kept
        return super().output(outs, msg, display_id, cell_index)


def _error(name: str, message: str) -> NotebookNode:
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def _recorded(cell: NotebookNode, label: str) -> tuple[Any, str | None]:
    """The one answer ``cell`` recorded for ``label``, or (None, why not)."""
    found = [
        o["data"][ANSWER_MIME]
        for o in cell.get("outputs", [])
        if o.get("output_type") in ("display_data", "execute_result")
        and ANSWER_MIME in o.get("data", {})
    ]
    if not found:
        return None, "no answer was recorded (the notebook did not run this cell to its end)"
    if len(found) > 1:
        return None, "more than one answer was recorded for this exercise"
    payload = found[0]
    if isinstance(payload, str):  # nbformat may keep JSON as text
        try:
            payload = json.loads(payload)
        except ValueError:
            return None, "the recorded answer is not readable"
    if len(json.dumps(payload, default=str)) > MAX_ANSWER_BYTES:
        return None, "the recorded answer is too large to grade"
    if not isinstance(payload, dict) or payload.get("label") != label:
        return None, "the recorded answer belongs to no exercise of this cell"
    return payload, None


def verdict_outputs(label: str, fraction: float, points: float, message: str) -> list:
    """The test cell's outputs for a verdict, as nbgrader scores them."""
    earned = round(fraction * points, 4)
    line = f"{label}: {earned:g} of {points:g} points. {message}"
    if fraction <= 0:
        return [_error("NotYet", line)]
    shown = new_output("display_data", data={"text/plain": f"✔ {line}"})
    if fraction >= 1:
        return [shown]
    return [shown, new_output("execute_result", data={"text/plain": f"{earned}"})]


class GradeAnswers(NbGraderPreprocessor):
    """Grade every recorded answer outside the student's kernel (see the module)."""

    manifest = Unicode(
        "", config=True, help="The course's manifest (course.json): the auto-graded labels."
    ).tag(config=True)

    def _labels(self) -> set[str]:
        if not self.manifest:
            raise ValueError("GradeAnswers.manifest is not configured")
        data = json.loads(Path(self.manifest).read_text())
        return set(data["auto"])

    def preprocess(self, nb: NotebookNode, resources: Any) -> Any:
        labels = self._labels()
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            label = meta.get("grade_id")
            if cell.cell_type != "code" or not meta.get("grade") or label not in labels:
                continue
            points = float(meta.get("points", 0))
            payload, why = _recorded(cell, label)
            if payload is None:
                cell.outputs = verdict_outputs(label, 0.0, points, str(why))
                continue
            result = grade(label, payload)
            cell.outputs = verdict_outputs(label, result.fraction, points, result.message)
        return nb, resources
