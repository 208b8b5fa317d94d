"""Comparing two runs' results value for value (``baa.experiments.compare``), timings left out."""

import json

from baa.experiments.compare import compare_runs, differences, main, move


def test_differences_name_every_changed_value():
    a = {"x": 1.0, "y": [1, 2], "z": {"q": "s", "t": float("nan")}, "meta": {"seconds": 3}}
    assert differences(a, json.loads(json.dumps(a).replace("NaN", "NaN"))) == []
    b = {"x": 1.0000001, "y": [1, 2, 3], "z": {"q": "s", "t": float("nan"), "new": 1}, "meta": {"seconds": 4}}
    d = differences(a, b, ignore=("meta",))
    assert d == ["/x: 1.0 -> 1.0000001", "/y: 2 items -> 3 items", "/z/new: missing -> present"]
    assert differences(1, 1.0) == [": 1 -> 1.0"]  # an int that became a float is a change


def test_compare_runs_leaves_out_the_bench_timings(tmp_path, capsys):
    for name, ms, mae in (("a", 10.0, 1.5), ("b", 12.0, 1.5)):
        (tmp_path / name / "results").mkdir(parents=True)
        (tmp_path / name / "results" / "table2.json").write_text(json.dumps({"mae": mae}))
        (tmp_path / name / "bench.json").write_text(json.dumps({"speed": {"ms": ms}, "meta": {"date": name},
                                                                  "restoration": {"psnr": 30.0}}))
    assert compare_runs(tmp_path / "a", tmp_path / "b") == []
    assert main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0 and "identical" in capsys.readouterr().out
    (tmp_path / "b" / "results" / "table2.json").write_text(json.dumps({"mae": 1.6}))
    assert compare_runs(tmp_path / "a", tmp_path / "b") == ["results/table2.json: /mae: 1.5 -> 1.6"]
    assert main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    (tmp_path / "b" / "results" / "table2.json").write_text(json.dumps({"mae": 1.5}))
    (tmp_path / "b" / "results" / "claims.json").write_text("[]")  # new after: listed, not a difference
    assert main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0 and "new after: results/claims.json" in capsys.readouterr().out
    (tmp_path / "b" / "bench.json").unlink()
    assert compare_runs(tmp_path / "a", tmp_path / "b") == ["bench.json: missing after"]


def test_keys_renamed_between_runs_and_new_keys():
    a = {"dq": {"ages": [1.0]}, "true": [2.0]}
    b = {"agree": {"dq": {"ages": [1.0], "source": "x"}}, "truth": [2.0]}
    assert move(move(json.loads(json.dumps(a)), "/dq", "/agree/dq"), "/true", "/truth") == {
        "agree": {"dq": {"ages": [1.0]}}, "truth": [2.0]}
    assert differences(move(move(a, "/dq", "/agree/dq"), "/true", "/truth"), b, new_ok=True) == []
    assert differences({"x": 1}, {"x": 1, "y": 2}) == ["/y: missing -> present"]
