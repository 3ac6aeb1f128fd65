from __future__ import annotations

import pytest

import lineage
from lineage import _config
from lineage.store import reset_connections
from tests import backends


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own LINEAGE_HOME and fresh process settings."""
    monkeypatch.setenv("LINEAGE_HOME", str(tmp_path / "home"))
    for name in ("LINEAGE_STORE", "LINEAGE_WORKSPACE", "LINEAGE_RUN", "LINEAGE_STRICT"):
        monkeypatch.delenv(name, raising=False)
    _config.reset_defaults()
    yield
    _config.reset_defaults()
    reset_connections()
    backends.stop_test_servers()


def pytest_sessionfinish(session, exitstatus):
    backends.drop_created()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return backends.make_url("sqlite", tmp_path)


@pytest.fixture(params=backends.ALL_BACKENDS)
def any_url(request, tmp_path) -> str:
    """A fresh store on every backend in turn."""
    return backends.make_url(request.param, tmp_path)


@pytest.fixture
def store(sqlite_url) -> lineage.Store:
    return lineage.Store(url=sqlite_url)


@pytest.fixture
def any_store(any_url) -> lineage.Store:
    return lineage.Store(url=any_url)


@pytest.fixture
def record_store_calls(monkeypatch):
    """``record_store_calls()`` starts recording the MLMD methods lineage
    calls on its stores and returns the list they are appended to."""
    from lineage.store import _backend

    def start() -> list:
        calls: list = []
        real = _backend.Backend.call

        def recording(self, method, *args, **kwargs):
            calls.append(method)
            return real(self, method, *args, **kwargs)

        monkeypatch.setattr(_backend.Backend, "call", recording)
        return calls

    return start
