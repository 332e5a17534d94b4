"""Names a package exports but imports only on first use, so that ``import casdb`` and
``casdb --help`` load none of the storage stack (fsspec's lazy registry, PEP 562).

Example:
    >>> __getattr__ = exports("demo", {"sqrt": ("math", "sqrt")})
    >>> __getattr__("sqrt")(9.0)
    3.0
"""

from __future__ import annotations

from collections.abc import Callable


def exports(package: str, table: dict[str, tuple[str, str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` serving ``table``: public name -> (module, name there)."""

    def __getattr__(name: str) -> object:
        if name in table:
            import importlib

            module, attr = table[name]
            return getattr(importlib.import_module(module), attr)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
