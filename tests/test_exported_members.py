"""lineage's public face: __all__ is exactly the public names."""

from __future__ import annotations

import types

import lineage


def test_all_is_exactly_the_public_names():
    """Every public, non-module attribute of lineage is in __all__, and everything in __all__ exists."""
    public = {
        name
        for name, value in vars(lineage).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(lineage.__all__)
    assert all(hasattr(lineage, name) for name in lineage.__all__)


def test_errors_subclass_builtins():
    """Every lineage error is also the builtin that matches its meaning."""
    assert issubclass(lineage.InvalidTypeError, TypeError)
    assert issubclass(lineage.InvalidValueError, ValueError)
    assert issubclass(lineage.InvalidStoreURLError, ValueError)
    assert issubclass(lineage.WorkspaceExistsError, ValueError)
    assert issubclass(lineage.StoreUnavailableError, lineage.StoreError)
    assert all(issubclass(getattr(lineage, n), lineage.LineageError) for n in lineage.__all__ if n.endswith("Error"))
