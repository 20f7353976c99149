"""The run-time garbage-collector settings apply inside the block and are undone after."""

import gc

from therapy_audit.runtime import lean_gc


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
