"""baa.book.build: what papermill injects, which chapters run, and the chapter-times table."""

from pathlib import Path

from baa.book.build import notebooks, parameters, times_table


def test_parameters_name_the_profile_and_only_a_real_dataset(tmp_path):
    assert parameters("smoke") == {"profile": "smoke"}  # the phantom: nothing else injected
    p = parameters("cpu", str(tmp_path), "dha", str(tmp_path / "test"))
    assert p == {"profile": "cpu", "data": str(tmp_path.resolve()), "data_format": "dha",
                 "test_data": str((tmp_path / "test").resolve())}
    assert Path(parameters("cpu", ".")["data"]).is_absolute()  # the notebooks run in another folder


def test_notebooks_in_order_and_filtered():
    every = notebooks()
    assert [n.name for n in every] == sorted(n.name for n in every) and len(every) >= 10
    assert [n.name[:2] for n in notebooks(["05", "10"])] == ["05", "10"]


def test_times_table():
    table = times_table([("01-data.ipynb", 30.0), ("03-bonet-loss.ipynb", 90.0)])
    lines = table.splitlines()
    assert lines[1].split()[-1] == "25.0%" and lines[2].split()[-1] == "75.0%"
    assert lines[-1].split()[:2] == ["total", "120"] and "(2.0 min)" in lines[-1]


def test_an_executed_copy_is_reused_only_for_the_same_notebook_parameters_and_code(tmp_path, monkeypatch):
    import nbformat

    from baa.book import build

    monkeypatch.setattr(build, "CHAPTERS", tmp_path / "chapters")
    nb = tmp_path / "01-x.ipynb"
    src = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(src, nb)
    assert not build.reusable(nb, {"profile": "smoke"})  # no copy yet
    done = nbformat.read(nb, as_version=4)
    done.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    done.metadata["widgets"] = {"state": {}}
    out = build.save_executed(nb, done, {"profile": "smoke"}, "nbval")
    saved = nbformat.read(out, as_version=4)
    assert "widgets" not in saved.metadata and saved.metadata["baa"]["executed_by"] == "nbval"
    assert build.reusable(nb, {"profile": "smoke"})
    assert not build.reusable(nb, {"profile": "cpu"})  # other parameters
    monkeypatch.setattr(build, "code_hash", lambda: "other code")
    assert not build.reusable(nb, {"profile": "smoke"})  # other code
    monkeypatch.undo()
    monkeypatch.setattr(build, "CHAPTERS", tmp_path / "chapters")
    done.cells[0].outputs = [nbformat.v4.new_output("error", ename="E", evalue="x", traceback=[])]
    build.save_executed(nb, done, {"profile": "smoke"}, "nbval")
    assert not build.reusable(nb, {"profile": "smoke"})  # an error is never reused
    build.save_executed(nb, nbformat.read(nb, as_version=4), {"profile": "smoke"}, "nbval")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(2)")]), nb)
    assert not build.reusable(nb, {"profile": "smoke"})  # the notebook changed
