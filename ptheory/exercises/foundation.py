"""Checks for the exercises of the chapters: prompt_tuning_model."""

from __future__ import annotations

__all__: list[str] = []
