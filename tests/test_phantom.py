"""Tests of the synthetic radiograph generator: maturity follows the reference facts, labels are
DHA-like, rendering is deterministic and the files round-trip."""

from __future__ import annotations

import csv
import importlib
import io

import numpy as np
import pytest
import torch
from PIL import Image
import baa.phantom.dataset as baa_phantom_dataset
from baa.phantom.anatomy import (CENTRES, EVENTS, N_CARPAL, N_U, N_Z, U_COLUMNS, Z_COLUMNS, PhantomConfig, maturity_state,
                                 named_draws, sample_subjects)
from baa.phantom.dataset import PhantomDataset, _to_png_array, age_grid, write_rsna
from baa.phantom.render import _splat, render

# the module itself: the package's attribute ``render`` is the function
RENDER = importlib.import_module("baa.phantom.render")


S = 64
NO_SCATTER = PhantomConfig(size=S, timing_sd=0.0)


def test_carpals_appear_in_documented_order():
    ages = torch.linspace(0, 14, 141)
    for male in (False, True):
        m = maturity_state(ages, torch.full_like(ages, male, dtype=torch.bool))
        present = m["present"][:, : N_CARPAL]
        n = m["n_carpals"]
        assert n[0] == 0 and n[-1] == 8
        assert bool((n[1:] >= n[:-1]).all()), "carpal count must grow with age"
        # at every age the present set is a prefix of capitate, hamate, triquetrum, lunate, ...
        for row in present:
            k = int(row.sum())
            assert bool(row[:k].all()) and not bool(row[k:].any())
    g = maturity_state(torch.tensor([0.1, 0.3, 1.0, 3.0, 5.0, 10.0]), torch.zeros(6, dtype=torch.bool))["n_carpals"]
    assert g.tolist() == [0, 2, 2, 4, 7, 8]  # capitate 0.17, hamate 0.25, triquetrum 1.5, lunate 2.5, ...


def test_rendered_carpals_grow_in_number_and_area():
    ages = [0.05, 1.0, 3.0, 6.0, 12.0]
    counts, areas = [], []
    for a in ages:
        r = render([7], seed=1, config=PhantomConfig(size=S), masks=True, override=dict(bone_age=a, male=False))
        counts.append(int(r["maturity"]["n_carpals"][0]))
        areas.append(int(r["masks"]["carpals"].sum()))
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] >= 7
    assert areas[0] == 0 and all(b > a for a, b in zip(areas[1:], areas[2:]))


def test_physis_gaps_close_after_fusion():
    cfg = NO_SCATTER
    fuse_g = EVENTS["fuse"][:, 0]
    epi = EVENTS["is_epi"]
    for male, age_open, age_closed in ((False, 11.0, 18.5), (True, 13.0, 19.5)):
        r_open = render([3], 0, cfg, override=dict(bone_age=age_open, male=male))["maturity"]
        r_shut = render([3], 0, cfg, override=dict(bone_age=age_closed, male=male))["maturity"]
        assert bool((r_open["physis_gap_cm"][0, epi] > 0.02).all())
        assert bool((r_shut["physis_gap_cm"][0, epi] == 0).all())
        assert bool((r_shut["fusion"][0, epi] == 1).all())
    # order: distal phalanges fuse first, the radius last
    assert fuse_g[CENTRES.index("dp3")] < fuse_g[CENTRES.index("mp3")] < fuse_g[CENTRES.index("ulna")]
    assert fuse_g[CENTRES.index("radius")] == fuse_g[epi].max()
    # mid-fusion: distal phalanx closing while the radius is still open
    m = render([3], 0, cfg, override=dict(bone_age=15.2, male=False))["maturity"]
    assert m["physis_gap_cm"][0, CENTRES.index("dp3")] == 0 and m["physis_gap_cm"][0, CENTRES.index("radius")] > 0


def test_girls_ahead_of_boys_at_equal_chronological_age():
    ages = torch.arange(1.0, 17.0)
    g = maturity_state(ages, torch.zeros_like(ages, dtype=torch.bool))
    b = maturity_state(ages, torch.ones_like(ages, dtype=torch.bool))
    score = lambda m: m["present"].sum(1) + m["size"].sum(1) + m["fusion"].sum(1)
    assert bool((score(g) > score(b)).all())
    # population: rendered subjects with chronological age 3-15 y, girls more mature on average
    r = render(torch.arange(160), seed=5, config=PhantomConfig(size=32, age_range=(3.0, 15.0)))
    ca, male, m = r["chrono_age"], r["male"], r["maturity"]
    sc = score(m).numpy()
    resid = sc - np.polyval(np.polyfit(ca.numpy(), sc, 2), ca.numpy())
    assert resid[~male.numpy()].mean() > resid[male.numpy()].mean() + 1.0


def test_labels_are_mean_of_two_readings():
    s = sample_subjects(2000, seed=3)
    assert s["readings"].shape == (2000, 2)
    assert torch.allclose(s["label"], s["readings"].mean(1))
    assert s["index"].tolist() == list(range(2000))
    err = (s["label"] - s["bone_age"]).std().item()
    assert 0.2 < err < 0.45  # reader_sd 0.5 per reading, mean of two, smaller for infants
    assert 0.45 < s["male"].float().mean().item() < 0.55
    assert s["bone_age"].min() >= 0 and s["bone_age"].max() <= 19 and s["bone_age"].std() > 4.5
    # the same index gives the same subject whatever the start
    t = sample_subjects(10, seed=3, start=100)
    assert torch.equal(t["label"], s["label"][100:110])


def test_same_seed_index_same_bytes_across_batch_sizes():
    cfg = PhantomConfig(size=S)
    a = render(torch.arange(12), seed=11, config=cfg)["image"]
    b = torch.cat([render(torch.arange(i, i + 3), seed=11, config=cfg)["image"] for i in range(0, 12, 3)])
    c = render(torch.tensor([5]), seed=11, config=cfg)["image"]
    assert torch.equal(a, b) and torch.equal(a[5:6], c)
    d = render(torch.arange(12), seed=12, config=cfg)["image"]
    assert not torch.equal(a, d)

    def png(x):
        buf = io.BytesIO()
        Image.fromarray(_to_png_array(x[0], 8)).save(buf, format="PNG")
        return buf.getvalue()

    assert png(a[5]) == png(c[0])


def test_same_bytes_with_worker_processes_and_wider_patches(tmp_path, monkeypatch):
    ds = PhantomDataset(10, seed=3, size=S, start=7)
    ref = ds.render_all(batch_size=3, progress=False, workers=0)
    par = ds.render_all(batch_size=4, progress=False, workers=2)
    assert torch.equal(ref["image"], par["image"]) and torch.equal(ref["label"], par["label"])
    write_rsna(tmp_path / "a", 7, size=S, seed=3, batch_size=2, progress=False, workers=0)
    write_rsna(tmp_path / "b", 7, size=S, seed=3, batch_size=3, progress=False, workers=2)
    for name in ["boneage-training-dataset.csv"] + [f"boneage-training-dataset/{i}.png" for i in range(1, 8)]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # each primitive's patch covers its whole footprint: a wider margin changes no pixel or mask
    r = render(torch.arange(6), seed=3, config=PhantomConfig(size=96), masks=True)
    monkeypatch.setattr(RENDER, "_BOX_MARGIN", 8.0)
    w = render(torch.arange(6), seed=3, config=PhantomConfig(size=96), masks=True)
    assert torch.equal(r["image"], w["image"])
    assert all(torch.equal(r["masks"][k], w["masks"][k]) for k in r["masks"])


def test_worker_processes_start_once(monkeypatch):
    """tqdm.auto calls iter() on what it wraps when built and again when iterated; on a DataLoader
    each call starts its own worker processes, and the first set renders batches nobody reads."""
    starts = []
    orig = torch.utils.data.DataLoader.__iter__

    def counted(self):
        starts.append(self.num_workers)
        return orig(self)

    monkeypatch.setattr(torch.utils.data.DataLoader, "__iter__", counted)
    for progress in (False, True):
        out = PhantomDataset(4, seed=1, size=S).render_all(batch_size=2, progress=progress, workers=2)
        assert out["image"].shape == (4, 1, S, S)
    assert starts == [2, 2]


def test_rsna_layout_round_trip(tmp_path):
    out = tmp_path / "rsna"
    summary = write_rsna(out, 10, size=S, seed=2, bits=16, progress=False)
    assert summary["n"] == 10 and summary["male"] + summary["female"] == 10
    with open(out / "boneage-training-dataset.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == ["id", "boneage", "male"]
    subj = sample_subjects(10, seed=2)
    ref = render(torch.arange(10), seed=2, config=PhantomConfig(size=S))["image"]
    for k, row in enumerate(rows):
        assert int(row["id"]) == k + 1 and row["male"] in ("True", "False")
        assert abs(float(row["boneage"]) - 12 * float(subj["label"][k])) < 0.01
        assert (row["male"] == "True") == bool(subj["male"][k])
        im = np.asarray(Image.open(out / "boneage-training-dataset" / f"{k + 1}.png"))
        assert im.shape == (S, S) and im.dtype in (np.uint16, np.int32)
        assert np.abs(im / 65535.0 - ref[k, 0].numpy()).max() < 1e-4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_rsna_writer_leaves_nothing_on_error(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(baa_phantom_dataset, "_to_png_array", boom)
    with pytest.raises(RuntimeError):
        write_rsna(tmp_path / "x", 4, size=32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_masks_align_with_bright_bone():
    r = render(torch.arange(8), seed=4, config=PhantomConfig(size=128, collimation=False, marker=False), masks=True)
    img, m = r["image"], r["masks"]
    assert set(m) >= {"carpals", "epiphyses", "bones", "hand"}
    for i in range(8):
        bone, hand = m["bones"][i], m["hand"][i]
        soft = hand & ~bone
        assert bone.sum() > 50 and soft.sum() > 200
        assert img[i][bone].mean() > img[i][soft].mean() + 0.03
        assert img[i][soft].mean() > img[i][~hand].mean() + 0.05  # soft tissue above background
        assert (bone & ~hand).float().sum() < 0.02 * bone.sum()  # bones lie inside the hand
    # landmarks lie inside the image and near bone
    lm = r["landmarks"]
    assert lm.shape[1:] == (len(r["landmark_names"]), 2)


def test_dataset_and_age_grid():
    ds = PhantomDataset(6, seed=1, size=32)
    item = ds[2]
    assert item["image"].shape == (1, 32, 32) and isinstance(item["label"], float) and item["index"] == 2
    assert item["male"] in (0.0, 1.0)
    full = ds.render_all(batch_size=4, progress=False)
    assert torch.equal(full["image"][2], item["image"])
    g = age_grid((1, 10), size=32)
    assert g.shape == (64, 64) and 0 <= float(g.min()) and float(g.max()) <= 1


def test_cortex_is_never_negative(monkeypatch):
    # small caps (under 0.3 px at 64 px) once let the medullary chord reach past the outer one
    seen = []
    splat = _splat

    def spy(p, sl, S, inner):
        out = splat(p, sl, S, inner)
        if inner:
            seen.append(float(out[2].min()))
        return out

    monkeypatch.setattr(RENDER, "_splat", spy)
    render(torch.arange(32), seed=5, config=PhantomConfig(size=64))
    assert seen and min(seen) >= 0.0


def test_every_draw_has_one_name():
    """Each column of an image's normal and uniform draws has exactly one name."""
    for columns, n in ((Z_COLUMNS, N_Z), (U_COLUMNS, N_U)):
        cols = sorted(c for v in columns.values() for c in (range(n)[v] if isinstance(v, slice) else [v]))
        assert cols == list(range(n))
    z = torch.arange(2 * N_Z).view(2, N_Z)
    named = named_draws(z, Z_COLUMNS)
    assert torch.equal(named.hand_length, z[:, 34]) and torch.equal(named.tilt[:, 2], z[:, 45])


def _hand_and_bone(cfg: PhantomConfig, age: float) -> tuple[float, float]:
    r = render(torch.arange(4), seed=2, config=cfg, masks=True, override={"bone_age": age})
    return float(r["masks"]["hand"].float().mean()), float(r["masks"]["bones"].float().mean())


def test_infant_anatomy_plumps_infants_and_leaves_the_default_alone():
    """``infant_anatomy``: more soft tissue and less ossified bone in infants' films, little change by
    adolescence; at 0 the phantom is the calibrated one (the same bytes)."""
    base = PhantomConfig(size=64, pose_variation=False, site_variation=False, collimation=False, marker=False)
    a = render(torch.arange(3), seed=1, config=base)["image"]
    b = render(torch.arange(3), seed=1, config=PhantomConfig(**{**base.__dict__, "infant_anatomy": 0.0}))["image"]
    assert torch.equal(a, b)
    infant = PhantomConfig(**{**base.__dict__, "infant_anatomy": 1.0})
    (h0, b0), (h1, b1) = _hand_and_bone(base, 0.5), _hand_and_bone(infant, 0.5)
    assert h1 > 1.1 * h0 and b1 < 0.95 * b0
    (h0, b0), (h1, b1) = _hand_and_bone(base, 16.0), _hand_and_bone(infant, 16.0)
    assert abs(b1 - b0) < 0.02 * b0 and h1 < 1.05 * h0


def test_proportion_spread_widens_the_scatter_of_hand_width():
    """``proportion_spread`` scales each hand's scatter of proportions: the hands' areas at one age
    vary more at 3 than at 1."""
    base = PhantomConfig(size=64, pose_variation=False, site_variation=False, collimation=False, marker=False)
    area = lambda k: render(torch.arange(16), seed=3, config=PhantomConfig(**{**base.__dict__, "proportion_spread": k}),
                            masks=True, override={"bone_age": 9.0})["masks"]["hand"].float().mean((1, 2, 3))
    assert float(area(3.0).std()) > 1.5 * float(area(1.0).std())


def test_carpal_scale_packs_the_wrist():
    """``carpal_scale`` 1.35: carpal area about 1.35^2 times the calibrated one; nothing else moves."""
    base = PhantomConfig(size=128, pose_variation=False, site_variation=False, collimation=False, marker=False)
    big = PhantomConfig(**{**base.__dict__, "carpal_scale": 1.35})
    a = render(torch.arange(2), seed=1, config=base, masks=True, override={"bone_age": 10.0})
    b = render(torch.arange(2), seed=1, config=big, masks=True, override={"bone_age": 10.0})
    ratio = b["masks"]["carpals"].float().sum() / a["masks"]["carpals"].float().sum()
    assert 1.5 < float(ratio) < 2.1
    assert torch.equal(a["masks"]["epiphyses"], b["masks"]["epiphyses"])


def test_pose_spread_fans_the_fingers():
    """``pose_spread`` 2.5: the index and little fingertips lie further apart than at 1."""
    tips = lambda k: render(torch.arange(16), seed=2, config=PhantomConfig(size=64, pose_spread=k))
    names = tips(1.0)["landmark_names"]
    i2, i5 = names.index("dp2"), names.index("dp5")
    gap = lambda r: (r["landmarks"][:, i2] - r["landmarks"][:, i5]).norm(dim=1).mean()
    assert float(gap(tips(2.5))) > 1.15 * float(gap(tips(1.0)))
