"""Checks for the exercises of the chapters: prompt_as_index, contextual_mapping, universality."""

from __future__ import annotations

__all__: list[str] = []
