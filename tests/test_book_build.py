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
