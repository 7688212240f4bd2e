"""Checks for the exercises of the chapters: almost_linear_inference, phase_transition."""

from __future__ import annotations

__all__: list[str] = []
