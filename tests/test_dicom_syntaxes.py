"""Every transfer syntax a hand radiograph arrives in from a PACS decodes (issue 21): a phantom film is
written in each (uncompressed, deflated, RLE, JPEG baseline / extended 12-bit / lossless / lossless
SV1, JPEG-LS lossless / near-lossless, JPEG 2000 lossless / lossy) and read back to the same stored
values (lossless) or within the stated tolerance (lossy), and to the image the uncompressed film gives."""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import uid

from baa.errors import InputError
from baa.io import read_image
from baa.io.dicom import (JLS_NEAR, LOSSY, LOSSY_RMS_TOLERANCE, SYNTAXES, dicom_attributes, dicom_pixels,
                          register_decoders, write_dicom)

DECODER_PACKAGES = ("imagecodecs", "pyjpegls", "pylibjpeg", "pylibjpeg-openjpeg")


@pytest.fixture(scope="module")
def film() -> np.ndarray:
    """A 192 px phantom radiograph (collimation, marker, heel effect) in [0, 1]."""
    from baa.phantom import PhantomConfig, render

    return render([7], seed=5, config=PhantomConfig(size=192))["image"][0, 0].numpy().astype(np.float64)


def _bits(name: str) -> int:
    return 8 if name == "jpeg_baseline" else 12


@pytest.mark.parametrize("name", list(SYNTAXES))
def test_each_syntax_decodes_to_the_written_values(film, tmp_path, name):
    bits = _bits(name)
    stored = np.round(film * (2 ** bits - 1)).astype(np.uint16)
    p = write_dicom(tmp_path / f"{name}.dcm", stored, transfer_syntax=name)
    assert pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID == getattr(uid, SYNTAXES[name])
    got = dicom_pixels(p).astype(np.float64)
    assert got.shape == stored.shape
    err = got - stored
    if name not in LOSSY:
        assert np.array_equal(got, stored)
    elif name == "jpegls_near":
        assert 0 < np.abs(err).max() <= JLS_NEAR  # near-lossless: every pixel within NEAR, and not exact
    else:
        rms = float(np.sqrt((err ** 2).mean())) / (2 ** bits - 1)
        assert 0 < rms <= LOSSY_RMS_TOLERANCE, rms
    # and the image read_image gives: the uncompressed film's, exactly or within the loss
    ref = read_image(write_dicom(tmp_path / "ref.dcm", stored, bits_stored=bits), fix_polarity=False)
    img = read_image(p, fix_polarity=False)
    diff = float(np.abs(img - ref).mean())
    assert diff == 0 if name not in LOSSY else diff < 0.01, (name, diff)


@pytest.mark.parametrize("name", [n for n in SYNTAXES if n not in LOSSY and n != "jpeg_baseline"])
def test_lossless_syntaxes_keep_16_bits(film, tmp_path, name):
    """A 16-bit detector's full range survives every lossless syntax (JPEG lossless up to 16 bits)."""
    stored = np.round(film * 65535).astype(np.uint16)
    p = write_dicom(tmp_path / f"{name}.dcm", stored, transfer_syntax=name, bits_stored=16)
    assert np.array_equal(dicom_pixels(p), stored)


def test_monochrome1_with_rescale_and_window_through_a_compressed_syntax(film, tmp_path):
    """MONOCHROME1, rescale slope/intercept and a VOI window apply to decoded JPEG-LS and JPEG
    lossless data as to uncompressed data."""
    stored = np.round((1 - film) * 4095).astype(np.uint16)
    kw = dict(photometric="MONOCHROME1", slope=2.0, intercept=-1000.0, window=(3000.0, 8000.0))
    ref = read_image(write_dicom(tmp_path / "ref.dcm", stored, **kw), fix_polarity=False)
    assert np.corrcoef(ref.ravel(), film.ravel())[0, 1] > 0.99  # bone bright again
    for name in ("jpegls", "jpeg_lossless", "j2k_lossless"):
        img = read_image(write_dicom(tmp_path / f"{name}.dcm", stored, transfer_syntax=name, **kw), fix_polarity=False)
        assert np.array_equal(img, ref), name


def test_same_arguments_same_bytes(film, tmp_path):
    stored = np.round(film * 4095).astype(np.uint16)
    for name in ("explicit_le", "rle", "jpeg_lossless", "j2k"):
        a = write_dicom(tmp_path / "a.dcm", stored, transfer_syntax=name).read_bytes()
        b = write_dicom(tmp_path / "b.dcm", stored, transfer_syntax=name).read_bytes()
        assert a == b, name
    assert a != write_dicom(tmp_path / "c.dcm", stored + 1, transfer_syntax="j2k").read_bytes()


def test_header_attributes_and_colour(film, tmp_path):
    stored = np.round(film * 4095).astype(np.uint16)
    p = write_dicom(tmp_path / "ct.dcm", stored, modality="CT", body_part="CHEST")
    assert dicom_attributes(p) == {"modality": "CT", "body_part": "CHEST", "photometric": "MONOCHROME2",
                                   "transfer_syntax": "Explicit VR Little Endian"}
    rgb = np.stack([np.round(film * 255)] * 3, -1).astype(np.uint8)
    for name in ("explicit_le", "jpeg_baseline", "rle"):
        got = dicom_pixels(write_dicom(tmp_path / f"rgb-{name}.dcm", rgb, transfer_syntax=name))
        assert got.shape == rgb.shape and np.abs(got.astype(int) - rgb).mean() < (2 if name == "jpeg_baseline" else 1e-9)


def test_a_broken_codestream_is_one_line_naming_the_syntax(film, tmp_path):
    from pydicom.encaps import encapsulate

    p = write_dicom(tmp_path / "j.dcm", np.round(film * 4095).astype(np.uint16), transfer_syntax="jpeg_lossless")
    ds = pydicom.dcmread(p)
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xc3" + bytes(40)])
    ds.save_as(p)
    with pytest.raises(InputError, match="transfer syntax JPEG Lossless") as e:
        read_image(p)
    assert "\n" not in str(e.value)


def test_every_syntax_has_a_declared_mit_compatible_decoder():
    """Each syntax has a decoder installed; the decoders are declared in pyproject.toml; none is
    GPL-licensed (baa is MIT)."""
    from pydicom.pixels import get_decoder

    register_decoders()
    for name, keyword in SYNTAXES.items():
        assert get_decoder(getattr(uid, keyword)).is_available, name
    if sys.version_info >= (3, 11):
        import tomllib

        deps = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
        declared = {re.split(r"[<>=!~ ;\[]", d)[0].lower() for d in deps}
        assert set(DECODER_PACKAGES) <= declared, declared
    for pkg in DECODER_PACKAGES:
        meta = md.metadata(pkg)
        licence = " ".join([meta.get("License") or "", meta.get("License-Expression") or "",
                            *(c for c in meta.get_all("Classifier") or [] if c.startswith("License"))])
        assert "GPL" not in licence.upper() and licence.strip(), (pkg, licence)
