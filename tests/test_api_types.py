"""The public API of ``ptheory`` is typed: every parameter and every return annotated."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import ptheory


def _public_modules() -> Iterator[object]:
    yield ptheory
    for info in pkgutil.walk_packages(ptheory.__path__, prefix="ptheory."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def _untyped(func: object, qualname: str) -> list[str]:
    missing = []
    signature = inspect.signature(func)
    for name, param in signature.parameters.items():
        if name in ("self", "cls"):
            continue
        if param.annotation is inspect.Parameter.empty:
            missing.append(f"{qualname}: parameter {name!r}")
    if signature.return_annotation is inspect.Signature.empty and not qualname.endswith("__init__"):
        missing.append(f"{qualname}: return")
    return missing


def _public_api() -> dict[str, object]:
    found: dict[str, object] = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
            elif inspect.isclass(obj) and obj.__module__.startswith("ptheory"):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr not in ("__init__", "__call__"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if inspect.isfunction(member):
                        found[f"{obj.__module__}.{obj.__qualname__}.{attr}"] = member
    return found


def test_public_api_is_annotated() -> None:
    api = _public_api()
    assert len(api) >= 40  # the sweep found the package, not an empty list
    missing = [m for qualname, func in sorted(api.items()) for m in _untyped(func, qualname)]
    assert not missing, "unannotated public API:\n" + "\n".join(missing)
