"""The shipped model (baa/weights, issue 18): it loads, its files are the ones the model card
hashes, it gives the ages its build recorded, and the rebuild is deterministic (at a tiny size:
the full rebuild takes a few minutes)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
import numpy as np
import pytest
import torch
from baa.data import tta_views
from baa.data.prepare import prepare_full
from baa.models import BoneSegmenter
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
    # BoNet+ reads the segmenter's maps its recipe names (chapter 11: the bones and the epiphyses) of the standardised image
    maps = m["pipe"].maps
    assert maps and set(maps) <= {*BoneSegmenter.MAP_NAMES, *BoneSegmenter.DERIVED} and m["meta"]["recipe"]["maps"] == ",".join(maps)
    assert r.shape == (2, len(maps), m["size"], m["size"]) and 0 <= r.min() and r.max() <= 1 and torch.isfinite(ages).all()


def test_a_pipeline_with_a_segmenter_saves_and_loads_what_it_measured():
    """``save_state`` stores the segmenter in fp16; a segmenter rounded by ``half_precision`` first (as the build
    does) loads back to the same maps and ages, bit for bit; the maps are the named ones, in [0, 1]."""
    from baa.models import BoneSegmenter, BoNetPlus
    from baa.weights import CalibratedBoNet, ShippedPipeline, build, save_state
    from baa.weights.model import half_precision

    torch.manual_seed(0)
    seg = half_precision(BoneSegmenter(base=4, depth=2).eval())
    reg = CalibratedBoNet(BoNetPlus(width=0.125, in_channels=2).eval(), 1)
    reg.feature_mean = torch.zeros(reg.bonet.forward_features(torch.zeros(1, 2, 32, 32)).flatten(1).shape[1] + 1)
    reg.feature_scale, reg.weight = torch.ones_like(reg.feature_mean), torch.rand_like(reg.feature_mean)
    pipe = ShippedPipeline(reg, seg, ("bones", "epiphyses")).eval()
    x = torch.zeros(2, 1, 32, 32)
    x[:, :, 6:-6, 8:-8] = 0.5
    x[:, :, 12:-12, 14:-14] = 0.9
    state = save_state(pipe, 32, {})
    assert {v.dtype for v in state["segmenter"]["model"].values() if v.is_floating_point()} == {torch.float16}
    again = build(state)
    with torch.inference_mode():
        maps = pipe.restore(x)
        assert maps.shape == (2, 2, 32, 32) and 0 <= maps.min() and maps.max() <= 1
        assert torch.equal(again.restore(x), maps) and torch.equal(again(x), pipe(x))
    assert build({**state, "segmenter": None}).segmenter is None  # no segmenter: BoNet+ reads the image


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
    """The shipped recipe at a tiny size: segmenter and BoNet+ twice, the same bytes; the file loads, its
    segmenter stored in fp16, and gives the ages it recorded; ``record`` holds what was measured."""
    from dataclasses import replace

    from baa.experiments import shipped as S

    r = replace(S.SHIPPED, n=8, size=32, width=0.125, epochs=1, batch_size=4, render_size=64)
    # same file name in two folders: torch.save writes the file's stem into the archive
    record = tmp_path / "shipped.json"
    a = S.rebuild(tmp_path / "a" / "bonet_real.pt", r, progress=False, record=record)
    b = S.rebuild(tmp_path / "b" / "bonet_real.pt", r, progress=False)
    assert a["sha256"] == b["sha256"]
    res = json.loads(record.read_text())
    assert res["shipped"] == a and res["variant"] is None  # not the shipped recipe itself: a tiny one
    assert S.as_results(res)["variants"]["shipped"] == res["evaluation"] and res["baseline"]["mean_loo"]["mae"] > 0
    assert res["evaluation"]["cv"]["ridge_residual"]["mae"] > 0 and len(res["evaluation"]["toddlers"]) > 0
    state = torch.load(tmp_path / "a" / "bonet_real.pt", weights_only=False)
    assert {v.dtype for v in state["segmenter"]["model"].values() if v.is_floating_point()} == {torch.float16}
    assert state["meta"]["cpu"] == torch.backends.cpu.get_cpu_capability()
    # the file measured as it is (no training) gives what its build measured, and keeps the build's wall time
    assert S.measure(tmp_path / "a" / "bonet_real.pt", record) == a
    again = json.loads(record.read_text())
    # fp32 noise only (~1e-6): the loaded networks are the trained ones
    assert again["evaluation"]["zero_shot"] == pytest.approx(res["evaluation"]["zero_shot"], rel=1e-4, abs=1e-5)
    assert again["evaluation"]["cv"]["ridge_residual"] == pytest.approx(res["evaluation"]["cv"]["ridge_residual"],
                                                                         rel=1e-4, abs=1e-5)
    assert S.measure(tmp_path / "a" / "bonet_real.pt", tmp_path / "new.json")["seconds"] is None
    m = load_shipped(tmp_path / "a" / "bonet_real.pt")
    assert m["size"] == 32 and m["pipe"].maps == tuple(S.SHIPPED.maps.split(","))
    i, age = next(iter(m["meta"]["rsna_ages"].items()))
    x = prepare_full(RSNA / "boneage-training-dataset" / f"{i}.png", 32).tensor
    with torch.inference_mode():
        assert float(m["pipe"].regressor(tta_views(m["pipe"].restore(x), 16)).mean()) == pytest.approx(age, abs=0.05)


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
    assert main(["assess", "--json", "--save-restored", str(tmp_path / "out"), str(film)]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["pipeline"] == "shipped" and 0.0 <= r["bone_age_years"] <= 20.0
    maps = Image.open(r["maps"])  # what BoNet+ read: bones red, carpals green, epiphyses blue
    assert maps.mode == "RGB" and maps.size == (64, 64) and "restored" not in r
    assert np.asarray(maps)[..., 0].max() > 128  # the phantom's bones are found
    for name, colour in (("carpals", 1), ("epiphyses", 2)):  # each map in its own colour, one not read stays dark
        assert (np.asarray(maps)[..., colour].max() > 0) == (name in load_shipped()["pipe"].maps)


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


# -- the film-scale restorer (issue 17) -------------------------------------------------------------

def test_film_restorer_loads_and_keeps_any_size():
    from baa.models.tiles import apply_tiled
    from baa.weights import load_film_restorer

    m = load_film_restorer()
    assert m["net"].spec["name"] == "ResUNet" and not m["net"].training and m["tile"] % 2 ** m["net"].depth == 0
    x = torch.rand(300, 221)
    with torch.inference_mode():
        y = apply_tiled(m["net"], x, m["tile"])
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_film_restorer_rebuild_is_deterministic(tmp_path):
    from baa.experiments.film_restore import FilmRecipe, film_pairs, rebuild

    r = FilmRecipe(n_films=6, render_size=128, patch=32, patches_per_film=4, epochs=1, tile=64, width=0.125, depth=3,
                   real_repeats=0)
    pairs = film_pairs(r, progress=False)
    assert pairs["degraded"].shape == pairs["clean"].shape == (24, 1, 32, 32)
    label = pairs["degraded"][4:8]  # film 1 (KINDS[1] = label): half its crops around the box
    assert (label[:2] == 0).flatten(1).any(1).all()
    same = pairs["degraded"] == pairs["clean"]
    assert not same[:4].all() and not same[8:12].all()  # noise and low resolution changed their crops
    a = rebuild(r, tmp_path / "a" / "resunet_film.pt", progress=False)
    b = rebuild(r, tmp_path / "b" / "resunet_film.pt", progress=False)
    assert a["sha256"] == b["sha256"]


def test_an_expert_s_film_pairs_have_one_kind_and_centre_on_the_hand():
    """``LOWRES_EXPERT``'s recipe: every film degraded by the low resolution, every crop on the hand
    (so none is flat background)."""
    import baa.degrade as D
    from baa.experiments.film_restore import LOWRES_EXPERT, film_pairs
    from baa.phantom import PhantomConfig, render
    from baa.phantom.appearance import randomise

    assert LOWRES_EXPERT.kinds == ("lowres",) and LOWRES_EXPERT.hand_share == 1.0
    r = dataclasses.replace(LOWRES_EXPERT, n_films=3, render_size=128, patch=32, patches_per_film=4)
    pairs = film_pairs(r, progress=False)
    assert pairs["clean"].shape == (12, 1, 32, 32)
    films = render([0, 1, 2], 0, PhantomConfig(size=128), masks=True)
    films = randomise(films["image"], [0, 1, 2], 0, films["masks"]["hand"])
    blurred = D.low_resolution(films)
    for i in range(12):  # each pair is a crop of film i // 4 and of its low-resolution copy, at the same place
        f = i // 4
        hits = (blurred[f, 0].unfold(0, 32, 1).unfold(1, 32, 1) == pairs["degraded"][i, 0]).flatten(2).all(-1)
        y, x = map(int, hits.nonzero()[0])
        assert torch.equal(films[f, 0, y:y + 32, x:x + 32], pairs["clean"][i, 0])
    assert (pairs["clean"].flatten(1).std(1) > 0.01).all()  # on the hand, not the flat background


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-xrays absent")
def test_film_pairs_learn_from_the_real_films_at_their_size():
    from baa.experiments.film_restore import FilmRecipe, film_pairs, real_films

    r = FilmRecipe(n_films=0, patch=64, patches_per_film=2, real_repeats=1)
    films = real_films(SHARED)
    assert [f.name for f in films[:2]] == ["raw-0.png", "raw-1.png"] and len(films) == 10
    pairs = film_pairs(r, films[:1], progress=False)
    assert pairs["clean"].shape == (6, 1, 64, 64)  # one film, three kinds, two crops each
    assert (pairs["degraded"][2] == 0).any()  # the first of the label's crops is centred on it


def test_baa_restore_uses_the_shipped_film_restorer_by_default(tmp_path, monkeypatch, capsys):
    """From a fresh clone ``baa restore`` needs no training: the shipped ResUNet removes the quantum
    noise ``baa degrade`` adds to a film at the film's own scale (a phantom film here, 384 x 300)."""
    import json

    from PIL import Image

    import baa.degrade as D
    from baa.cli import main
    from baa.phantom import PhantomConfig, render
    from baa.phantom.appearance import randomise
    from baa.restore import psnr

    monkeypatch.delenv("BAA_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no artifacts/ here
    r = render([7], seed=5, config=PhantomConfig(size=384), masks=True)
    clean = randomise(r["image"], [7], 5, r["masks"]["hand"])[:, :, :, 40:340]
    q = lambda t: (t[0, 0].numpy() * 255).round().astype(np.uint8)
    Image.fromarray(q(clean)).save(tmp_path / "clean.png")
    Image.fromarray(q(D.degrade(clean, "noise", 0))).save(tmp_path / "noisy.png")
    capsys.readouterr()
    assert main(["restore", str(tmp_path / "noisy.png"), str(tmp_path / "out.png")]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["restorer"] == "shipped" and info["shape"] == [384, 300]
    assert info["routed"]["kind"] == "any"  # --kind auto: a noisy film goes to the blind restorer
    read = lambda n: np.asarray(Image.open(tmp_path / n), dtype=np.float64) / 255
    before, after = psnr(read("noisy.png"), read("clean.png")), psnr(read("out.png"), read("clean.png"))
    assert after > before + 3.0, (before, after)


def test_baa_restore_kind_lowres_restores_the_detail_the_blind_restorer_leaves(tmp_path, monkeypatch, capsys):
    """``--kind lowres`` runs the shipped low-resolution expert: on a phantom film degraded by ``baa
    degrade``'s 4x low resolution it gains where the blind restorer does not; with a profile it is an
    error (one line, exit 2)."""
    import json

    from PIL import Image

    import baa.degrade as D
    from baa.cli import main
    from baa.phantom import PhantomConfig, render
    from baa.phantom.appearance import randomise
    from baa.restore import psnr

    monkeypatch.delenv("BAA_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)
    r = render([3], seed=6, config=PhantomConfig(size=512), masks=True)
    clean = randomise(r["image"], [3], 6, r["masks"]["hand"])
    q = lambda t: (t[0, 0].numpy() * 255).round().astype(np.uint8)
    Image.fromarray(q(clean)).save(tmp_path / "clean.png")
    Image.fromarray(q(D.degrade(clean, "lowres", 0))).save(tmp_path / "blurred.png")
    read = lambda n: np.asarray(Image.open(tmp_path / n), dtype=np.float64) / 255
    gains = {}
    for kind in ("any", "lowres", "auto"):
        capsys.readouterr()
        assert main(["restore", str(tmp_path / "blurred.png"), str(tmp_path / f"{kind}.png"), "--kind", kind]) == 0
        info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert info["restorer"] == {"any": "shipped", "lowres": "shipped lowres expert", "auto": "shipped lowres expert"}[kind]
        gains[kind] = psnr(read(f"{kind}.png"), read("clean.png")) - psnr(read("blurred.png"), read("clean.png"))
    assert gains["lowres"] > gains["any"] + 0.5, gains
    assert gains["auto"] == gains["lowres"]  # the router sent the blurred film to the expert (the default)
    assert info["routed"]["kind"] == "lowres" and info["routed"]["detail_ratio_db"] < info["routed"]["threshold_db"]
    capsys.readouterr()
    assert main(["restore", str(tmp_path / "blurred.png"), str(tmp_path / "x.png"), "--kind", "lowres", "--profile", "smoke"]) == 2
    assert "--kind lowres runs a shipped restorer" in capsys.readouterr().err


def test_the_shipped_router_is_the_one_its_command_calibrates():
    """``baa/weights/film_router.json`` is what ``calibrate_router`` gives (same seed, same films), and
    its threshold separates the phantom's low-resolution films from the rest with at most one error."""
    from baa.experiments.film_router import calibrate_router
    from baa.weights import load_film_router

    shipped = load_film_router()
    assert calibrate_router(progress=False) == shipped
    ph = shipped["phantom"]
    assert ph["errors"] <= 1 and ph["range_db"]["lowres"][0] < shipped["threshold_db"] < ph["range_db"]["noise"][0]


def test_measure_router_routes_and_scores_each_kind(tmp_path):
    """``measure_router`` on one phantom film: each of the four qualities scored, routed (the expert for
    the low resolution only) and restored by the network it chose."""
    from baa.experiments.film_restore import phantom_film
    from baa.experiments.film_router import measure_router
    from baa.weights import load_film_router

    f = phantom_film(tmp_path / "film.png", size=256, seed=2)
    m = measure_router([f], load_film_router(), progress=False)
    assert m["n"] == 1 and set(m["accuracy"]) == {"high", "noise", "label", "lowres"}
    assert all(v == 1.0 for v in m["accuracy"].values()), m["films"]
    assert m["films"]["film.png"]["lowres"]["routed"] == "lowres" and m["gain"]["noise"] > 3


def test_the_chapter_shows_the_card_s_restoration_figures_without_a_run(tmp_path):
    """Chapter 9 renders ``film_restore run``'s results when present, else the model card's table."""
    from baa.experiments.film_restore import results_markdown

    text = results_markdown(None)
    assert "model card" in text and "| noise | blind ResUNet, film scale (`baa restore --kind any`) |" in text
    assert "| lowres | Lanczos |" in text and "sha256" not in text
    assert "| lowres | ResUNet, low-resolution expert (`baa restore --kind lowres`) |" in text
