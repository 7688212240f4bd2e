"""Explorers for the Capacity part."""

from __future__ import annotations

__all__: list[str] = []
