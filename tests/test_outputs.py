"""The notebooks are stored clean except the compared cells (``baa.book.outputs``), and the
pytest set-up runs them at the smoke profile under ``--nbval``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from baa.book.outputs import CHECK_TAG, checked, ignored, problems, strip

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for src, tags, outputs, count in cells:
        c = nbformat.v4.new_code_cell(src, metadata={"tags": tags}, outputs=outputs, execution_count=count)
        c.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
        nb.cells.append(c)
    nb.cells.append(nbformat.v4.new_markdown_cell("text"))
    nb.metadata["widgets"] = {"state": {}}
    return nb


OUT = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]


def test_strip_keeps_only_the_compared_cells():
    nb = strip(_nb(("print(1)", [CHECK_TAG], OUT, 3), ("plot()", ["nbval-ignore-output"], OUT, 4),
                   ("untagged()", [], OUT, 5)))
    kept, plot, untagged = nb.cells[:3]
    assert kept.outputs == OUT and kept.execution_count == 3
    assert plot.outputs == [] and plot.execution_count is None
    assert untagged.outputs == [] and untagged.execution_count is None  # only a tagged cell keeps outputs
    assert all("execution" not in c.metadata for c in nb.cells) and "widgets" not in nb.metadata
    assert problems(nb) == ["cell 2: tag it either nbval-check-output (compared) or nbval-ignore-output"]


def test_problems_name_every_breach():
    nb = _nb(("print(1)", [CHECK_TAG], [], None), ("plot()", ["nbval-ignore-output"], OUT, 4),
             ("# NBVAL_IGNORE_OUTPUT\nx", [CHECK_TAG], [], None), ("y", ["nbval-skip"], [], None))
    found = problems(nb)
    assert found[0].startswith("cell 0: tagged nbval-check-output but stored without outputs")
    assert found[1] == "cell 1: not compared by nbval, yet stored with outputs"
    assert found[2].startswith("cell 2: tag it either")  # ignored by its comment and tagged checked: both
    assert len(found) == 3
    assert ignored(nb.cells[3]) and not checked(nb.cells[3]) and checked(nb.cells[0])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_follow_the_convention(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "BAA_PROFILE" in "".join(params[0]["source"])
    assert problems(nb) == []


def test_at_least_15_cells_are_compared():
    n = sum(checked(c) for p in NOTEBOOKS for c in json.loads(p.read_text())["cells"])
    assert n >= 15, n


def test_nbval_runs_the_notebooks_at_the_smoke_profile(tmp_path):
    """The root conftest.py sets BAA_PROFILE=smoke for --nbval, and only for it."""
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    (tmp_path / "test_env.py").write_text(
        "import os\n\ndef test_env():\n    print('PROFILE=' + str(os.environ.get('BAA_PROFILE')))\n")
    env = {k: v for k, v in os.environ.items() if k != "BAA_PROFILE"}

    def run(*args, extra=None):
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args, "test_env.py"],
                           cwd=tmp_path, env={**env, **(extra or {})}, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    assert "PROFILE=smoke" in run("--nbval")
    assert "PROFILE=None" in run()
    assert "PROFILE=cpu" in run("--nbval", extra={"BAA_PROFILE": "cpu"})


def test_pytest_collects_notebooks_only_with_nbval():
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "notebooks"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ".ipynb" not in r.stdout
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "--nbval",
                        str(NOTEBOOKS[0])], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert f"{NOTEBOOKS[0].name}::Cell 0" in r.stdout, r.stdout
