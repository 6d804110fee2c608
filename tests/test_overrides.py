"""Every method that overrides a base class's carries ``@override``, so that mypy fails when
the SDK (or any base) renames what we override, instead of the override silently going dead.
Overrides of the builtins' methods (an exception's ``__init__``) are left out: the stand-ins
use the standard library only, and ``typing.override`` needs Python 3.12."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import tap_proofpoint_tap

pytestmark = pytest.mark.fast


def _modules():
    for info in pkgutil.walk_packages(tap_proofpoint_tap.__path__, "tap_proofpoint_tap."):
        try:
            yield importlib.import_module(info.name)
        except ImportError as error:  # an extra not installed here (duckdb on Python 3.10)
            if error.name not in {"duckdb", "altair", "vl_convert", "fastjsonschema"}:
                raise


def _unmarked() -> list[str]:
    found = []
    for module in _modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for name, member in vars(cls).items():
                function = member.fget if isinstance(member, property) else member
                function = getattr(function, "__func__", function)  # static/class methods
                if not inspect.isfunction(function) or not function.__qualname__.startswith(
                    f"{cls.__qualname__}."
                ):  # not written in this class (a class, a module function assigned)
                    continue
                bases = [
                    base
                    for base in cls.__mro__[1:]
                    if base.__module__ != "builtins" and name in vars(base)
                ]
                if bases and not getattr(function, "__override__", False):
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return found


def test_every_override_is_marked():
    assert _unmarked() == []
