"""pytest for the whole repository: ``pytest --nbval`` runs the unit tests and every notebook.

The notebooks run at the ``smoke`` profile (64² images, a few epochs: a few minutes) unless
``BAA_PROFILE`` is set: the notebooks' parameters cell reads ``BAA_PROFILE``, and nbval's kernels
inherit this process's environment. Without ``--nbval`` (or ``--nbval-lax``) nothing changes:
plain ``pytest`` collects no notebook and leaves ``BAA_PROFILE`` alone.
"""

import os


def pytest_configure(config):
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        os.environ.setdefault("BAA_PROFILE", "smoke")
