"""Run-time settings (garbage collector, HTTP pool) apply inside the block, undone after."""

import gc
import os

from therapy_audit.runtime import (
    INSPECT_POOL_CONNECTIONS,
    KEEPALIVE_CONNECTIONS,
    KEEPALIVE_ENV,
    POOL_ENV,
    http_pool,
    lean_gc,
)


def test_lean_gc_raises_the_threshold_and_restores_it():
    before = gc.get_threshold()
    with lean_gc(threshold=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_lean_gc_restores_after_an_error():
    before = gc.get_threshold()
    try:
        with lean_gc(threshold=9_999):
            raise RuntimeError("run failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_http_pool_sizes_inspects_pool_for_the_run_and_restores_the_environment(monkeypatch):
    # Inspect's own reading of the pool settings, so a rename upstream fails here.
    from inspect_ai._util.http_defaults_httpx2 import default_limits

    monkeypatch.delenv(POOL_ENV, raising=False)
    monkeypatch.delenv(KEEPALIVE_ENV, raising=False)
    before = default_limits()
    assert before.max_connections == INSPECT_POOL_CONNECTIONS
    with http_pool(1_500):
        limits = default_limits()
        assert limits.max_connections == 1_500
        assert limits.max_keepalive_connections == KEEPALIVE_CONNECTIONS
    assert POOL_ENV not in os.environ and KEEPALIVE_ENV not in os.environ
    with http_pool(64):
        assert default_limits().max_connections == INSPECT_POOL_CONNECTIONS
    assert default_limits().max_keepalive_connections == before.max_keepalive_connections


def test_http_pool_leaves_a_users_own_settings_alone(monkeypatch):
    monkeypatch.setenv(KEEPALIVE_ENV, "7")
    monkeypatch.setenv(POOL_ENV, "300")
    with http_pool(5_000):
        assert os.environ[KEEPALIVE_ENV] == "7"
        assert os.environ[POOL_ENV] == "300"
    assert os.environ[KEEPALIVE_ENV] == "7"
