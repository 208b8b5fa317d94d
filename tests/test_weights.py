"""The shipped model (baa/weights, issue 18): it loads, its files are the ones the model card
hashes, it gives the ages its build recorded, and the rebuild is deterministic (at a tiny size:
the full rebuild takes about half an hour)."""

from __future__ import annotations
import hashlib
from pathlib import Path
import pytest
import torch
from baa.data import tta_views
from baa.data.prepare import prepare_full
from baa.weights import FILES, HERE, card_hashes, load_shipped, sha256

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RSNA = SHARED / "rsna-dev"
REAL = SHARED / "real-xrays"


def test_shipped_files_match_the_model_card():
    hashes = card_hashes()
    assert set(hashes) == set(FILES)
    total = 0
    for f in FILES:
        assert sha256(HERE / f) == hashes[f], f"{f} is not the file MODEL_CARD.md describes"
        total += (HERE / f).stat().st_size
    assert total <= 20 * 2**20


def test_load_shipped_has_load_models_keys():
    m = load_shipped()
    assert {"pipe", "classifier", "size", "source", "pipeline"} <= set(m)
    assert m["classifier"] is None and m["size"] >= 32
    x = torch.zeros(2, 1, m["size"], m["size"])
    x[:, :, 8:-8, 12:-12] = 0.5
    x[:, :, 16:-16, 20:-20] = 0.9
    with torch.inference_mode():
        r = m["pipe"].restore(x)
        ages = m["pipe"].regressor(tta_views(r, 4))
    assert r.shape == x.shape and torch.isfinite(ages).all()


@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_shipped_ages_are_the_build_s():
    """``baa assess``'s path (prepare_full, restore, 16 views) gives the ages the build recorded."""
    m = load_shipped()
    recorded = m["meta"]["rsna_ages"]
    for i in list(recorded)[:3]:
        x = prepare_full(RSNA / "boneage-training-dataset" / f"{i}.png", m["size"]).tensor
        with torch.inference_mode():
            age = float(m["pipe"].regressor(tta_views(m["pipe"].restore(x), 16)).mean())
        assert age == pytest.approx(recorded[i], abs=0.05)  # fp32 here; bf16-level agreement


@pytest.mark.slow
@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_rebuild_is_deterministic(tmp_path):
    from baa.experiments.transfer import Recipe, rebuild

    r = Recipe(n=8, size=32, width=0.125, epochs=1, batch_size=4, render_size=64)
    # same file name in two folders: torch.save writes the file's stem into the archive
    a = rebuild(tmp_path / "a" / "bonet_real.pt", r, progress=False)
    b = rebuild(tmp_path / "b" / "bonet_real.pt", r, progress=False)
    assert a["sha256"] == b["sha256"]
    m = load_shipped(tmp_path / "a" / "bonet_real.pt")
    assert m["size"] == 32


def test_baa_assess_answers_with_the_shipped_model_by_default(tmp_path, monkeypatch, capsys):
    """From a fresh clone (no --pipeline, --profile, --checkpoint or $BAA_PROFILE) ``baa assess``
    reads the shipped model, and no trained artifacts are needed; naming a pipeline still asks for
    the trained one."""
    import json

    from baa.cli import _assess_pipeline, build_parser, main
    from PIL import Image

    from baa.phantom import PhantomConfig, render

    monkeypatch.delenv("BAA_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no artifacts/ here
    parse = build_parser().parse_args
    assert _assess_pipeline(parse(["assess", "x.png"])) == "shipped"
    assert _assess_pipeline(parse(["assess", "x.png", "--profile", "smoke"])) == "dq"
    assert _assess_pipeline(parse(["assess", "x.png", "--pipeline", "nq"])) == "nq"
    monkeypatch.setenv("BAA_PROFILE", "smoke")
    assert _assess_pipeline(parse(["assess", "x.png"])) == "dq"
    monkeypatch.delenv("BAA_PROFILE")
    film = tmp_path / "hand.png"
    img = render([9.0], seed=3, config=PhantomConfig(size=256))["image"][0, 0].numpy()
    Image.fromarray((img * 255).clip(0, 255).astype("uint8")).save(film)
    capsys.readouterr()
    assert main(["assess", "--json", str(film)]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["pipeline"] == "shipped" and 0.0 <= r["bone_age_years"] <= 20.0


def test_an_age_the_shipped_head_clamps_is_flagged(tmp_path):
    """The shipped head answers 0-19 y, clamping each view; ``baa assess`` reads its raw ages
    unclamped, so an age it clamps is reported at the bound *and* flagged, never silently."""
    from PIL import Image

    from baa.assess.assess import _assess_one
    from baa.phantom import PhantomConfig, render

    m = load_shipped()
    reg = m["pipe"].regressor
    assert reg.bounds == (0.0, 19.0)
    img = render([9.0], seed=3, config=PhantomConfig(size=256))["image"][0, 0].numpy()
    Image.fromarray((img * 255).clip(0, 255).astype("uint8")).save(tmp_path / "hand.png")
    ok = _assess_one(tmp_path / "hand.png", m, None, None, tta=4)
    reg.bias -= 40.0  # every view far below 0 y
    low = _assess_one(tmp_path / "hand.png", m, None, None, tta=4)
    assert low["bone_age_years"] == 0.0 and low["bone_age_raw_years"] < -20
    assert any("outside the trained range 0-19 y" in w for w in low["warnings"])
    assert not any("outside" in w for w in ok["warnings"])
