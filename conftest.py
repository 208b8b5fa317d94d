"""pytest for the whole repository: ``pytest --nbval`` runs the unit tests and every notebook.

The notebooks run at the ``smoke`` profile (64² images, a few epochs: a few minutes) unless
``BAA_PROFILE`` is set: the notebooks' parameters cell reads ``BAA_PROFILE``, and nbval's kernels
inherit this process's environment. Without ``--nbval`` (or ``--nbval-lax``) nothing changes:
plain ``pytest`` collects no notebook and leaves ``BAA_PROFILE`` alone.

A notebook whose every cell passed under nbval is also written, with the outputs nbval saw, as the
book's executed copy (``book/chapters/``, stamped as ``baa.book.build.save_executed`` stamps
papermill's): ``python -m baa.book --reuse`` with the same profile then builds the book without
running that chapter again (the browser tests do, right after ``pytest --nbval`` in ``make test``).
"""

import os

_PASSED: dict[str, bool] = {}


def _nbval(config) -> bool:
    return bool(getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False))


def pytest_configure(config):
    if _nbval(config):
        os.environ.setdefault("BAA_PROFILE", "smoke")
        from baa.train.device import use_fast_malloc

        use_fast_malloc()  # for the kernels nbval starts
    if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test-unit` runs one worker per core
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_runtest_logreport(report):
    if report.when == "call" or report.failed:
        _PASSED[report.nodeid] = _PASSED.get(report.nodeid, True) and report.passed


def pytest_sessionfinish(session, exitstatus):
    if not _nbval(session.config):
        return
    from pathlib import Path

    from baa.book.build import NOTEBOOKS, save_executed

    by_notebook: dict[Path, list] = {}
    for item in session.items:
        if hasattr(item, "test_outputs") and hasattr(item, "cell"):
            by_notebook.setdefault(Path(str(item.parent.fspath)), []).append(item)
    for path, items in by_notebook.items():
        nb = items[0].parent.nb
        code = [c for c in nb.cells if c.cell_type == "code"]
        ran = [it for it in items if it.test_outputs is not None]
        if path.parent != NOTEBOOKS or len(ran) != len(code) or not all(_PASSED.get(it.nodeid) for it in items):
            continue  # a chapter that did not run whole, or failed, is not the book's copy
        for count, it in enumerate(items, 1):
            it.cell.outputs, it.cell.execution_count = it.test_outputs, count
        save_executed(path, nb, {"profile": os.environ["BAA_PROFILE"]}, "nbval")
