"""Tests for baa.data: every fixture is made in tmp_path at test time (nothing binary committed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from baa.data import (
    BoneAgeData,
    P_WARP,
    augment,
    blur_augment,
    flip_augment,
    kfold_splits,
    load,
    load_csv,
    load_dha,
    load_rsna,
    morphology_augment,
    summarize,
    tta_views,
)
from baa.errors import InputError
from baa.io import detect_inverted, read_image, resize_pad

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-xrays"


# ------------------------------------------------------------------ fixtures


def hand(h: int = 64, w: int = 48, seed: int = 0) -> np.ndarray:
    """A crude hand-like image in [0,1]: dark background, bright ellipse, brighter 'bones'."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w), 0.1, np.float32)
    ell = ((yy - h / 2) / (0.38 * h)) ** 2 + ((xx - w / 2) / (0.3 * w)) ** 2 <= 1
    img[ell] = 0.55
    for cx in (0.4, 0.5, 0.6):
        img[(abs(xx - cx * w) < w * 0.03) & ell & (yy > h * 0.3)] = 0.9
    img += np.random.default_rng(seed).normal(0, 0.01, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def to_u8(a: np.ndarray) -> np.ndarray:
    a = (a - a.min()) / (a.max() - a.min())
    return np.round(a * 255).astype(np.uint8)


def save_png(path: Path, a: np.ndarray) -> Path:
    Image.fromarray(to_u8(a)).save(path)
    return path


def write_dicom(path: Path, arr: np.ndarray, photometric: str = "MONOCHROME2", transfer_syntax=None,
                pixel_data: bytes | None = None, **elements) -> Path:
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    for k, v in elements.items():
        setattr(ds, k, v)
    if pixel_data is None:
        ds.PixelData = arr.astype(np.uint16).tobytes()
    else:
        ds.PixelData = pixel_data
    ds.save_as(str(path), enforce_file_format=True)
    assert pydicom.dcmread(str(path)).file_meta.TransferSyntaxUID == meta.TransferSyntaxUID
    return path


def centre_minus_border(img: np.ndarray) -> float:
    h, w = img.shape
    border = np.concatenate([img[:3].ravel(), img[-3:].ravel()])
    return float(img[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].mean() - border.mean())


# ------------------------------------------------------------------ image formats


def test_png_8bit_roundtrip(tmp_path):
    a = to_u8(hand())
    Image.fromarray(a).save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png", fix_polarity=False)
    assert img.dtype == np.float32 and img.shape == a.shape
    np.testing.assert_allclose(img, a / 255.0, atol=1e-6)  # min 0 and max 255 present: exact


def test_png_16bit_uses_the_data_range(tmp_path):
    a = np.round(hand() * 4095).astype(np.uint16)  # 12-bit data in a 16-bit PNG
    Image.fromarray(a).save(tmp_path / "a16.png")
    with Image.open(tmp_path / "a16.png") as im:
        assert im.mode.startswith("I")
    img = read_image(tmp_path / "a16.png", fix_polarity=False)
    assert img.min() == 0.0 and img.max() == 1.0  # not divided by 65535
    assert np.corrcoef(img.ravel(), a.ravel())[0, 1] > 0.99
    assert centre_minus_border(img) > 0.3


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_rgb_to_grey(tmp_path, mode):
    g = to_u8(hand())
    rgb = np.stack([g, g, g] + ([np.full_like(g, 255)] if mode == "RGBA" else []), axis=-1)
    Image.fromarray(rgb, mode).save(tmp_path / "c.png")
    np.testing.assert_allclose(read_image(tmp_path / "c.png", fix_polarity=False), g / 255.0, atol=1e-4)


def test_jpeg_roundtrip(tmp_path):
    g = to_u8(hand())
    Image.fromarray(g).save(tmp_path / "a.jpg", quality=95)
    img = read_image(tmp_path / "a.jpg", fix_polarity=False)
    assert np.abs(img - g / 255.0).mean() < 0.03


def test_tiff_16bit_and_float(tmp_path):
    a = np.round(hand() * 60000).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "a.tif")
    img = read_image(tmp_path / "a.tif", fix_polarity=False)
    assert np.corrcoef(img.ravel(), a.ravel())[0, 1] > 0.99
    f = hand().astype(np.float32) * 7.5 - 2
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    img = read_image(tmp_path / "f.tif", fix_polarity=False)
    assert np.corrcoef(img.ravel(), f.ravel())[0, 1] > 0.99
    f[3, 4] = np.nan
    Image.fromarray(f, "F").save(tmp_path / "nan.tif")
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "nan.tif")


# ------------------------------------------------------------------ DICOM


def dicom_object() -> np.ndarray:
    a = np.full((40, 32), 200, np.uint16)
    a[12:28, 10:22] = 3000  # bright object (bone) in the middle
    return a


def test_dicom_monochrome2(tmp_path):
    img = read_image(write_dicom(tmp_path / "m2.dcm", dicom_object()), fix_polarity=False)
    assert img.shape == (40, 32)
    assert img[20, 16] == pytest.approx(1.0) and img[0, 0] == pytest.approx(0.0)


def test_dicom_monochrome1_is_read_the_right_way_up(tmp_path):
    a = dicom_object()
    p = write_dicom(tmp_path / "m1.dcm", 4095 - a, photometric="MONOCHROME1")
    img = read_image(p, fix_polarity=False)  # the photometric tag alone must make bone bright
    assert img[20, 16] == pytest.approx(1.0) and img[0, 0] == pytest.approx(0.0)
    ref = read_image(write_dicom(tmp_path / "m2.dcm", a), fix_polarity=False)
    np.testing.assert_allclose(img, ref, atol=1e-6)


def test_dicom_no_extension_detected_by_magic(tmp_path):
    p = write_dicom(tmp_path / "m2.dcm", dicom_object())
    q = tmp_path / "IMG0001"
    q.write_bytes(p.read_bytes())
    assert read_image(q, fix_polarity=False)[20, 16] == pytest.approx(1.0)


def test_dicom_rescale_then_window(tmp_path):
    # stored 500 / 1050 / 2000 -> rescaled (2s-1000) 0 / 1100 / 3000; window 1100 +- 200 in
    # rescaled units gives 0 / 0.5 / 1. Without the slope the middle would read ~0.375.
    a = np.full((40, 30), 500, np.uint16)
    a[:, 10:20] = 1050
    a[:, 20:] = 2000
    p = write_dicom(tmp_path / "w.dcm", a, RescaleSlope=2, RescaleIntercept=-1000,
                    WindowCenter=1100, WindowWidth=400)
    img = read_image(p, fix_polarity=False)
    assert img[5, 2] == pytest.approx(0.0, abs=1e-6)
    assert img[5, 15] == pytest.approx(0.5, abs=0.01)
    assert img[5, 25] == pytest.approx(1.0, abs=1e-6)


def test_dicom_window_clips_outside(tmp_path):
    a = np.tile(np.linspace(0, 4000, 40, dtype=np.float32), (20, 1)).astype(np.uint16)
    img = read_image(write_dicom(tmp_path / "w.dcm", a, WindowCenter=2000, WindowWidth=1000), fix_polarity=False)
    row = img[0]
    assert (row[a[0] < 1400] == 0).all() and (row[a[0] > 2600] == 1).all()
    inside = (a[0] > 1600) & (a[0] < 2400)
    assert ((row[inside] > 0) & (row[inside] < 1)).all()


def test_garbage_dicom(tmp_path):
    p = tmp_path / "g.dcm"
    p.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(InputError) as e:
        read_image(p)
    assert str(e.value).startswith(str(p) + ": ")
    q = tmp_path / "h.dcm"  # right magic, garbage after it
    q.write_bytes(b"\0" * 128 + b"DICM" + np.random.default_rng(1).bytes(500))
    with pytest.raises(InputError):
        read_image(q)


def test_dicom_unsupported_transfer_syntax(tmp_path):
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless

    p = write_dicom(tmp_path / "j2k.dcm", dicom_object(), transfer_syntax=JPEG2000Lossless,
                    pixel_data=encapsulate([b"\xff\x4f\xff\x51 not really a codestream" * 4]))
    with pytest.raises(InputError, match="transfer syntax") as e:
        read_image(p)
    assert "\n" not in str(e.value)  # pydicom's multi-line plugin report folded into one line


# ------------------------------------------------------------------ bad files


def test_bad_files(tmp_path):
    good = save_png(tmp_path / "good.png", hand(200, 160))
    data = good.read_bytes()
    cases = {
        "truncated.png": data[: len(data) // 2],
        "empty.png": b"",
        "text.png": b"id,boneage\n1,2\n",
        "notes.txt": b"hello",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError) as e:
            read_image(tmp_path / name)
        msg = str(e.value)
        assert msg.startswith(str(tmp_path / name) + ": ") and "\n" not in msg, msg
    Image.fromarray(np.array([[7]], np.uint8)).save(tmp_path / "one.png")
    with pytest.raises(InputError, match="too small"):
        read_image(tmp_path / "one.png")
    Image.fromarray(np.full((20, 20), 9, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(InputError, match="blank"):
        read_image(tmp_path / "blank.png")
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(InputError, match="not an image"):
        read_image(tmp_path / "text.png")


# ------------------------------------------------------------------ polarity


def test_inverted_png_detected_and_fixed(tmp_path):
    a = hand(80, 60)
    assert not detect_inverted(a)
    assert detect_inverted(1 - a)
    save_png(tmp_path / "inv.png", 1 - a)
    raw = read_image(tmp_path / "inv.png", fix_polarity=False)
    assert centre_minus_border(raw) < 0
    fixed = read_image(tmp_path / "inv.png")
    assert centre_minus_border(fixed) > 0.3
    normal = read_image(save_png(tmp_path / "ok.png", a))
    np.testing.assert_allclose(fixed, normal, atol=2 / 255)


def test_detect_inverted_leaves_ambiguous_alone():
    rng = np.random.default_rng(0)
    assert not detect_inverted(rng.random((120, 100)).astype(np.float32))
    assert not detect_inverted(np.zeros((50, 50), np.float32))


# ------------------------------------------------------------------ resize_pad


def test_resize_pad_keeps_aspect_and_centres():
    out = resize_pad(np.ones((100, 50), np.float32), 32)
    assert out.shape == (32, 32) and out.dtype == np.float32
    cols = np.flatnonzero(out.max(axis=0) > 0.5)
    assert cols[0] == 8 and cols[-1] == 23  # 16 columns wide, centred
    assert (out[:, :8] == 0).all() and (out[:, 24:] == 0).all()
    np.testing.assert_allclose(out[:, 8:24], 1.0, atol=1e-5)
    wide = resize_pad(np.ones((10, 40), np.float32), 20)
    rows = np.flatnonzero(wide.max(axis=1) > 0.5)
    assert (rows[0], rows[-1]) == (7, 11)  # 10x40 -> 5x20, padded 7 above and 8 below


def test_resize_pad_antialiases_when_shrinking():
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (256, 128))  # 1-px stripes
    out = resize_pad(stripes, 32)
    assert np.abs(out - 0.5).max() < 0.05  # averaged, not aliased to 0/1


# ------------------------------------------------------------------ loaders


def make_rsna(root: Path, rows: list[tuple], missing: tuple = ()) -> Path:
    (root / "boneage-training-dataset").mkdir(parents=True)
    lines = ["id,boneage,male"] + [f"{i},{b},{m}" for i, b, m in rows]
    (root / "boneage-training-dataset.csv").write_text("\n".join(lines) + "\n")
    for k, (i, _, _) in enumerate(rows):
        if str(i) not in missing:
            save_png(root / "boneage-training-dataset" / f"{i}.png", hand(50 + k, 40, seed=k))
    return root


def test_load_rsna(tmp_path):
    root = make_rsna(tmp_path / "rsna", [(1377, 180, "False"), (1378, 13.5, "True"), (1379, 24, 1), (1380, 6, 0)])
    d = load_rsna(root, size=16, progress=False)
    assert isinstance(d, BoneAgeData) and len(d) == 4
    assert d.images.shape == (4, 1, 16, 16) and d.images.dtype == torch.float32
    assert 0 <= d.images.min() and d.images.max() <= 1
    np.testing.assert_allclose(d.age.numpy(), [15.0, 1.125, 2.0, 0.5])
    np.testing.assert_array_equal(d.male.numpy(), [0, 1, 1, 0])
    assert d.ids == ["1377", "1378", "1379", "1380"] and d.source.startswith("rsna:")
    assert len(load_rsna(root, size=16, limit=2, progress=False)) == 2
    d2 = load(root, format="rsna", size=16, progress=False, workers=1)
    assert torch.equal(d2.images, d.images)


def test_load_rsna_missing_images_and_columns(tmp_path):
    root = make_rsna(tmp_path / "r", [(1, 10, "True"), (2, 20, "False"), (3, 30, "False")], missing=("2", "3"))
    with pytest.raises(InputError) as e:
        load_rsna(root, size=16, progress=False)
    msg = str(e.value)
    assert "2.png" in msg and "2 of 3" in msg
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "boneage-training-dataset.csv").write_text("id,age,sex\n1,10,M\n")
    with pytest.raises(InputError, match=r"missing column\(s\) boneage.*has columns id, age, sex"):
        load_rsna(bad, size=16)
    with pytest.raises(InputError, match="not found"):
        load_rsna(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "boneage-training-dataset.csv").write_text("id,boneage,male\n")
    with pytest.raises(InputError, match="empty"):
        load_rsna(empty)


def make_dha(root: Path) -> Path:
    specs = [("CAUM", 12, "7186"), ("ASIF", 3, "100"), ("HISM", 0, "55")]
    for k, (rs, aa, num) in enumerate(specs):
        d = root / "JPEGimages" / rs / f"{rs}{aa:02d}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_u8(hand(60, 45, seed=k))).save(d / f"{num}.jpg", quality=90)
    return root


def test_load_dha_two_readings(tmp_path):
    root = make_dha(tmp_path / "dha")
    (root / "meta.csv").write_text("id,reading1,reading2\n7186,150,156\n100,36,40\n55,6,\n")
    d = load_dha(root, size=24, progress=False)
    assert d.images.shape == (3, 1, 24, 24)
    np.testing.assert_allclose(d.age.numpy(), [153 / 12, 38 / 12, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(d.male.numpy(), [1, 0, 1])  # from the folder names
    assert d.extra["race"] == ["CAU", "ASI", "HIS"] and d.extra["age_group"] == [12, 3, 0]
    sub = d.subset([2, 0])
    assert sub.ids == ["55", "7186"] and sub.extra["race"] == ["HIS", "CAU"]
    # configurable column names and units
    (root / "meta.csv").unlink()
    other = tmp_path / "other.csv"
    other.write_text("image,r_a,r_b\n7186.jpg,12.5,13.5\n")
    d = load_dha(root, size=16, metadata_csv=other, reading_cols=("r_a", "r_b"), id_col="image",
                 units="years", progress=False)
    assert d.ids == ["7186"] and d.age.item() == pytest.approx(13.0)


def test_summarize_dha(tmp_path):
    root = make_dha(tmp_path / "dha")
    (root / "meta.csv").write_text("id,reading1,reading2\n7186,150,156\n100,36,40\n999,12,12\n")
    s = summarize(root, "dha", progress=False, size=256)  # loader-only options are ignored
    assert s["n"] == 3 and s["n_images"] == 2 and s["sex"] == {"male": 1, "female": 1, "unknown": 1}
    text = " | ".join(s["problems"])
    assert "1 ids without images: 999" in text and "1 images in JPEGimages have no row" in text
    with pytest.raises(InputError, match="image not found .*1 of 3"):
        load_dha(root, size=16, progress=False)


def test_load_dha_plain_csv(tmp_path):
    root = make_dha(tmp_path / "dha")
    (root / "labels.csv").write_text(
        "image_ID,dir,patient_ID,sex,bone_age\n7186.jpg,CAUM/CAUM12,7186,M,150.5\n100.jpg,ASIF/ASIF03,100,F,40\n"
    )
    d = load(root, format="dha", size=16, progress=False)
    np.testing.assert_allclose(d.age.numpy(), [150.5 / 12, 40 / 12], rtol=1e-6)
    np.testing.assert_array_equal(d.male.numpy(), [1, 0])
    (root / "labels.csv").write_text("image_ID,foo\n7186.jpg,1\n")
    with pytest.raises(InputError, match="reading1, reading2.*bone_age.*image_ID, foo"):
        load_dha(root, size=16)


def test_load_csv(tmp_path):
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    for k in range(3):
        save_png(img_dir / f"case{k}.png", hand(40, 30, seed=k))
    csv = tmp_path / "labels.csv"
    csv.write_text("file,age_m,gender\ncase0.png,120,M\ncase1,60.5,F\ncase2.png,12,\n")
    d = load_csv(csv, image_root=img_dir, path_col="file", age_col="age_m", size=20, progress=False)
    np.testing.assert_allclose(d.age.numpy(), [10.0, 60.5 / 12, 1.0], rtol=1e-6)
    assert d.male[0] == 1 and d.male[1] == 0 and torch.isnan(d.male[2])
    assert d.ids == ["case0", "case1", "case2"]
    with pytest.raises(InputError) as e:
        load_csv(csv, image_root=img_dir, path_col="path", age_col="bone_age")
    msg = str(e.value)
    assert "missing column(s) path, bone_age" in msg and "file, age_m, gender" in msg
    with pytest.raises(InputError, match="not found"):
        load_csv(tmp_path / "none.csv")
    with pytest.raises(InputError, match="unknown dataset format"):
        load(tmp_path, format="xyz")


def test_summarize_reports_problems_without_raising(tmp_path):
    rows = [(1, 120, "True"), (2, 60, "False"), (3, 300, "False"), (3, 30, "True"), (5, "abc", "x"), (6, 50, "1")]
    root = make_rsna(tmp_path / "r", rows, missing=("6",))
    (root / "boneage-training-dataset" / "5.png").write_bytes(b"not a png")
    jpg = root / "boneage-training-dataset" / "2.png"  # a truncated JPEG under a .png name
    Image.fromarray(to_u8(hand(80, 60))).save(tmp_path / "t.jpg")
    jpg.write_bytes((tmp_path / "t.jpg").read_bytes()[:500])
    s = summarize(root, format="rsna", progress=False)
    json.dumps(s)
    assert s["n"] == 6 and s["n_images"] == 5
    assert s["sex"] == {"male": 3, "female": 2, "unknown": 1}
    assert s["age_years"]["max"] == pytest.approx(25.0) and s["age_years"]["min"] == pytest.approx(2.5)
    text = " | ".join(s["problems"])
    for needle in ("1 ids without images", "6.png", "2 unreadable", "5.png", "2.png: unreadable", "duplicated ids", "outside 0-20",
                   "numeric bone age"):
        assert needle in text, (needle, text)
    clean = make_rsna(tmp_path / "c", [(1, 120, "True"), (2, 60, "False")])
    assert summarize(clean, "rsna", progress=False)["problems"] == []


# ------------------------------------------------------------------ container, CV, augmentation


def test_container_subset_and_to():
    d = BoneAgeData(torch.rand(5, 1, 8, 8), torch.arange(5.0), torch.tensor([1.0, 0, 1, 0, float("nan")]),
                    [f"i{k}" for k in range(5)], "phantom")
    s = d.subset(np.array([4, 1]))
    assert s.ids == ["i4", "i1"] and torch.equal(s.age, torch.tensor([4.0, 1.0]))
    assert torch.equal(s.images[0], d.images[4])
    m = d.subset(torch.tensor([True, False, True, False, False]))
    assert m.ids == ["i0", "i2"] and len(d.subset(slice(1, 3))) == 2
    assert d.to("cpu").images.device.type == "cpu"
    with pytest.raises(ValueError):
        BoneAgeData(torch.rand(5, 1, 8, 8), torch.arange(4.0), torch.zeros(5), ["a"] * 5, "x")


def test_kfold_stratified():
    rng = np.random.default_rng(3)
    age = rng.gamma(4, 2.5, size=203)
    splits = kfold_splits(age, k=5, seed=1)
    assert len(splits) == 5
    vals = [v for _, v in splits]
    allv = np.concatenate(vals)
    assert sorted(allv.tolist()) == list(range(203))  # every index in exactly one val fold
    for tr, va in splits:
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 203
        assert abs(age[va].mean() - age.mean()) < 0.15 * age.std()  # stratified
        assert abs(len(va) - 203 / 5) <= 1
    # a random split would be far less balanced in age than this
    again = kfold_splits(torch.tensor(age), k=5, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    other = kfold_splits(age, k=5, seed=2)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(splits, other))
    with pytest.raises(ValueError):
        kfold_splits([1.0, 2.0], k=5)


def test_augment_deterministic_and_effective():
    x = torch.from_numpy(np.stack([hand(64, 64, seed=s) for s in range(4)]))[:, None]
    a = augment(x, torch.Generator().manual_seed(7), p_warp=1.0)
    b = augment(x, torch.Generator().manual_seed(7), p_warp=1.0)
    c = augment(x, torch.Generator().manual_seed(8), p_warp=1.0)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert all((a[i] - x[i]).abs().mean() > 0.01 for i in range(len(x)))
    assert torch.equal(augment(x, torch.Generator().manual_seed(7), p_warp=0.0), x)
    # BoNet+'s share (P_WARP = 1/2): about half the images pass unchanged (sharp), the rest warped
    many = x.repeat(8, 1, 1, 1)
    assert torch.equal(augment(many, torch.Generator().manual_seed(7)), augment(many, torch.Generator().manual_seed(7), p_warp=1.0))
    d = augment(many, torch.Generator().manual_seed(7), p_warp=P_WARP)
    kept = torch.tensor([torch.equal(d[i], many[i]) for i in range(len(many))])
    assert 0.2 < kept.float().mean() < 0.8
    assert all((d[i] - many[i]).abs().mean() > 0.01 for i in range(len(many)) if not kept[i])
    same = augment(x, torch.Generator().manual_seed(7), max_rotation=0, max_shift=0, zoom=(1, 1))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    # 90 degrees of pure rotation keeps the content inside a zero-padded frame
    ones = torch.ones(2, 1, 32, 32)
    r = augment(ones, torch.Generator().manual_seed(0), max_rotation=45, max_shift=0, zoom=(1, 1), p_warp=1.0)
    assert r[:, :, 16, 16].min() > 0.99 and r.min() < 0.5


def test_blur_augment_blurs_a_share_and_keeps_the_rest():
    x = torch.from_numpy(np.stack([hand(64, 64, seed=s) for s in range(4)]))[:, None].repeat(8, 1, 1, 1)
    a = blur_augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, blur_augment(x, torch.Generator().manual_seed(3))) and a.dtype == x.dtype
    kept = torch.tensor([torch.equal(a[i], x[i]) for i in range(len(x))])
    assert 0.2 < kept.float().mean() < 0.8
    # blurred images lose edge energy and keep their mean (normalised kernel, replicate padding)
    grad = lambda t: (t[..., 1:, :] - t[..., :-1, :]).abs().mean()
    blurred = (~kept).nonzero().flatten().tolist()
    for i in blurred:  # a sigma drawn near 0 leaves an image (almost) as it was
        assert grad(a[i]) <= grad(x[i]) * (1 + 1e-6)
        assert abs(float(a[i].mean() - x[i].mean())) < 1e-3
    assert sum(bool(grad(a[i]) < 0.9 * grad(x[i])) for i in blurred) >= len(blurred) // 2
    assert torch.equal(blur_augment(x, torch.Generator().manual_seed(3), p=0.0), x)


def test_morphology_augment_erodes_or_dilates_a_share_of_the_maps():
    g = lambda: torch.Generator().manual_seed(5)
    maps = torch.zeros(64, 2, 9, 9)
    maps[:, :, 3:6, 3:6] = 1.0  # a 3x3 square: dilated 5x5 (25 px), eroded to its centre (1 px)
    a = morphology_augment(maps, g(), p=0.5)
    assert torch.equal(a, morphology_augment(maps, g(), p=0.5))
    area = a.sum((2, 3)).flatten()
    assert set(area.tolist()) <= {1.0, 9.0, 25.0}
    assert 0.3 < float((area == 9).float().mean()) < 0.7  # each channel on its own: about half unchanged
    assert float((area == 25).float().mean()) == pytest.approx(float((area == 1).float().mean()), abs=0.15)
    assert (morphology_augment(maps, g(), p=1.0, dilate=0.0).sum((2, 3)) == 1).all()  # erosion only
    assert (morphology_augment(maps, g(), p=1.0, dilate=1.0).sum((2, 3)) == 25).all()
    assert torch.equal(morphology_augment(maps, g(), p=0.0), maps)


def test_morphology_augment_radius_draws_one_or_more_pixels():
    g = lambda: torch.Generator().manual_seed(6)
    maps = torch.zeros(200, 2, 13, 13)
    maps[:, :, 4:9, 4:9] = 1.0  # 5x5: dilated to 7x7 or 9x9, eroded to 3x3 or its centre
    a = morphology_augment(maps, g(), p=1.0, radius=2)
    area = a.sum((2, 3)).flatten()
    assert set(area.tolist()) == {1.0, 9.0, 49.0, 81.0}
    assert float((area >= 49).float().mean()) == pytest.approx(0.5, abs=0.1)
    assert float(((area == 81) | (area == 1)).float().mean()) == pytest.approx(0.5, abs=0.1)  # k=2 half the time
    one = morphology_augment(maps, g(), p=1.0)
    assert set(one.sum((2, 3)).flatten().tolist()) == {9.0, 49.0}
    assert torch.equal(one, morphology_augment(maps, g(), p=1.0, radius=1))
    with pytest.raises(ValueError, match="radius"):
        morphology_augment(maps, g(), radius=0)


def test_flip_augment_is_lossless_and_random():
    x = torch.from_numpy(np.stack([hand(32, 32, seed=s) for s in range(16)]))[:, None]
    a = flip_augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, flip_augment(x, torch.Generator().manual_seed(3)))
    kinds = set()
    for i in range(len(x)):  # every output is the input with one of the four flips: no value changed
        for k, f in enumerate((x[i], x[i].flip(-1), x[i].flip(-2), x[i].flip(-1).flip(-2))):
            if torch.equal(a[i], f):
                kinds.add(k)
                break
        else:
            raise AssertionError(f"image {i} is not a flip of its input")
    assert len(kinds) >= 3  # 16 images: all four flips are likely, three all but certain



def test_tta_views_fixed_per_view_and_independent_of_the_batch():
    x = torch.from_numpy(np.stack([hand(48, 48, seed=s) for s in range(5)]))[:, None]
    v = tta_views(x, 6)
    assert v.shape == (30, 1, 48, 48)
    assert torch.equal(v[:5], x)  # view 0: the images themselves
    assert torch.equal(v, tta_views(x, 6))  # the same views every call
    g = v.view(6, 5, 1, 48, 48)
    alone = tta_views(x[3:4], 6).view(6, 1, 1, 48, 48)[:, 0]
    torch.testing.assert_close(g[:, 3], alone)  # an image's views do not depend on its batch
    # one warp per view, shared by the images: same-content images get the same views ...
    twin = tta_views(torch.cat([x[:1], x[:1]]), 6).view(6, 2, 1, 48, 48)
    assert torch.equal(twin[:, 0], twin[:, 1])
    # ... and the views differ from each other and from the image by a training-sized warp
    d = [(g[k] - x).abs().mean().item() for k in range(1, 6)]
    assert min(d) > 0.01 and len({round(e, 6) for e in d}) == 5
    assert torch.equal(tta_views(x, 1), x)

# ------------------------------------------------------------------ real radiographs


@pytest.mark.skipif(not REAL.is_dir(), reason="shared/real-xrays not present")
def test_real_radiographs_read_right_way_up():
    files = sorted(REAL.glob("raw-*.png"))
    assert files
    for f in files:
        img = read_image(f, fix_polarity=False)
        assert img.ndim == 2 and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
        assert not detect_inverted(img), f.name
        assert detect_inverted(1 - img), f.name
        np.testing.assert_array_equal(read_image(f), img)  # fix_polarity leaves them alone
        assert resize_pad(img, 64).shape == (64, 64)


def test_collimation_bands_do_not_flip_polarity():
    """White collimator bands (unexposed film) must not make a correct radiograph look inverted."""
    from baa.io.images import detect_inverted
    from baa.phantom.anatomy import PhantomConfig
    from baa.phantom.render import render

    imgs = render(torch.arange(60), seed=0, config=PhantomConfig(size=64, collimation=True))["image"][:, 0].numpy()
    assert sum(detect_inverted(i) for i in imgs) == 0
    assert sum(detect_inverted(1 - i) for i in imgs) == len(imgs)


def test_grow_dilates_or_erodes_by_whole_pixels():
    from baa.data import grow

    maps = torch.zeros(1, 1, 11, 11)
    maps[..., 3:8, 3:8] = 1.0  # 5x5
    assert [float(grow(maps, k).sum()) for k in (-2, -1, 0, 1, 2)] == [1.0, 9.0, 25.0, 49.0, 81.0]
    assert torch.equal(grow(maps, 0), maps)
