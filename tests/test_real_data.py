"""baa.data.real: a labelled folder chosen once, tagged by its files and labels, every film prepared
as ``baa assess`` prepares it, bad films left out with their reason. Runs on a phantom folder in the
RSNA layout (always available); the real films of ``../shared/rsna-dev`` when present."""

from pathlib import Path

import pytest
import torch

from baa.data.prepare import prepare
from baa.data.real import data_tag, load_prepared
from baa.profiles import PHANTOM, data_spec
from baa.errors import InputError
from baa.phantom import write_rsna

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "rsna-dev"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("rsna") / "phantom-rsna"
    write_rsna(out, n=6, size=96, seed=3, progress=False)
    return out


def test_the_phantom_is_the_default_and_a_bad_request_is_one_line(tmp_path):
    assert data_spec() is PHANTOM and data_spec(None, "rsna") is PHANTOM and data_tag(PHANTOM) == "phantom"
    with pytest.raises(InputError, match="dataset folder not found"):
        data_spec(tmp_path / "nope")
    with pytest.raises(InputError, match="unknown dataset format"):
        data_spec(tmp_path, "xml")


def test_films_are_prepared_as_assess_prepares_them_and_cached(folder, tmp_path):
    spec = data_spec(folder, "rsna")
    data, left_out = load_prepared(spec.root, spec.format, 48, tmp_path / "cache", progress=False)
    assert len(data) == 6 and left_out == [] and data.images.shape == (6, 1, 48, 48)
    assert torch.equal(data.images[0:1], prepare(data.extra["path"][0], 48))  # the one preparation path
    assert list((tmp_path / "cache").glob("prepared-48-phantom-rsna-*.pt"))
    again, _ = load_prepared(spec.root, spec.format, 48, tmp_path / "cache", progress=False)
    assert torch.equal(again.images, data.images)


def test_a_bad_film_is_left_out_with_its_reason(folder, tmp_path, capsys):
    bad = tmp_path / "bad"
    write_rsna(bad, n=4, size=64, seed=5, progress=False)
    victim = sorted((bad / "boneage-training-dataset").glob("*.png"))[1]
    victim.write_bytes(b"not a png")
    data, left_out = load_prepared(bad, "rsna", 32, progress=False)
    assert len(data) == 3 and len(left_out) == 1 and left_out[0][0] == str(victim)
    assert f"{victim}:" in capsys.readouterr().err


def test_the_tag_follows_the_labels(folder, tmp_path):
    import shutil

    copy = tmp_path / "phantom-rsna"
    shutil.copytree(folder, copy)
    assert data_tag(data_spec(copy)) == data_tag(data_spec(folder))  # same files, same labels
    csv = copy / "boneage-training-dataset.csv"
    lines = csv.read_text().splitlines()
    first = lines[1].split(",")
    first[1] = str(float(first[1]) + 12)  # one label one year older
    csv.write_text("\n".join([lines[0], ",".join(first)] + lines[2:]) + "\n")
    assert data_tag(data_spec(copy)) != data_tag(data_spec(folder))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/rsna-dev is absent")
def test_every_real_rsna_dev_film_is_prepared():
    data, left_out = load_prepared(SHARED, "rsna", 32, progress=False)
    assert left_out == [] and len(data) == 28
    assert 1.0 < float(data.age.min()) and float(data.age.max()) < 16.0


def test_the_experiments_run_on_a_real_layout_folder_under_its_own_tag(folder, tmp_path, monkeypatch, capsys):
    """The whole experiment path (Table 2, the restorers, the classifier, Tables 4-5) on a phantom
    folder read back through the RSNA loader and the preparation path: the artifacts land under the
    dataset's tag, beside (never inside) the phantom's."""
    import baa.experiments.tables as T
    from baa.experiments.artifacts import artifact_dir
    from baa.experiments.datasets import dataset
    from baa.profiles import Profile

    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path / "artifacts"))
    tiny = Profile(name="tiny", image_size=32, width=0.125, n_images=24, n_test=8, folds=2, cv_folds_run=1,
                   epochs_regressor=1, epochs_classifier=1, epochs_resunet=1, resunet_depth=2, classifier_width=0.125,
                   classifier_hidden=16, n_bench=4)
    real = tiny.with_data(data_spec(folder, "rsna"))
    root = artifact_dir(real)
    assert root.parent == tmp_path / "artifacts" / "tiny" and root.name == data_tag(real.data)
    train, test = dataset(real, "train", progress=False), dataset(real, "test", progress=False)
    assert len(train) + len(test) == 6 and len(test) >= 1 and not set(train.ids) & set(test.ids)
    results = T.assessment(real, progress=False)
    assert results["n_test"] == len(test) and "phantom-rsna" in results["source"]
    assert (root / "results" / "assessment.json").exists() and list((root / "models").glob("resunet_dq.pt"))
    assert not (tmp_path / "artifacts" / "tiny" / "models").exists()  # nothing written for the phantom
    # one preparation path: `baa evaluate` and `baa assess` give a film the same age with the same models
    import json

    from baa.cli import main

    models = str(root / "models")
    capsys.readouterr()
    assert main(["evaluate", "--data", str(folder), "--checkpoint", models, "--pipeline", "dq", "--tta", "4",
                 "--per-image"]) == 0
    evaluated = {r["file"]: r["bone_age_years"] for r in json.loads(capsys.readouterr().out)["per_image"]}
    films = sorted(evaluated)[:2]
    assert main(["assess", *films, "--checkpoint", models, "--pipeline", "dq", "--tta", "4", "--json", "--force"]) == 0
    assessed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for r in assessed:
        assert r["bone_age_years"] == pytest.approx(evaluated[r["file"]], abs=2e-3), r["file"]
