"""gunicorn.conf.py: each web worker, once the application is loaded, moves its objects out of
the garbage collector's sight (gc.freeze), so full collections stay cheap on large pages."""

import gc
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_worker_freezes_the_loaded_application_for_the_garbage_collector():
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        conf["post_worker_init"](None)
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert frozen > 10_000  # Django, the console's modules and every view
