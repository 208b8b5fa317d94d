"""DICOM: reading pixel data in every transfer syntax a PACS sends, with its modality and VOI LUTs,
and writing test films in each of them.

Decoders (pydicom 3 plugins; every one MIT or BSD licensed, with wheels for Linux, macOS and
Windows): pydicom itself for the uncompressed, deflated and RLE syntaxes; ``imagecodecs``'s
libjpeg-turbo 3 for the JPEG processes, baseline, extended 12-bit and lossless (registered here as
a plugin: pydicom's own JPEG plugins are GPL-licensed (pylibjpeg-libjpeg) or refuse 12-bit data
(Pillow, GDCM)); Pillow as a second decoder for 8-bit JPEG; ``pyjpegls`` (CharLS) for JPEG-LS;
``pylibjpeg-openjpeg`` (OpenJPEG) for JPEG 2000. The same packages encode the films
:func:`write_dicom` writes.

Layer: io.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np

from baa.errors import InputError, one_line

log = logging.getLogger(__name__)


DICOM_EXTENSIONS = (".dcm", ".dicom")


# Every transfer syntax a hand radiograph arrives in, by a short name (pydicom.uid keyword).
SYNTAXES = {
    "implicit_le": "ImplicitVRLittleEndian",
    "explicit_le": "ExplicitVRLittleEndian",
    "explicit_be": "ExplicitVRBigEndian",
    "deflated": "DeflatedExplicitVRLittleEndian",
    "rle": "RLELossless",
    "jpeg_baseline": "JPEGBaseline8Bit",  # process 1: 8-bit, lossy
    "jpeg_extended": "JPEGExtended12Bit",  # processes 2 and 4: 12-bit, lossy
    "jpeg_lossless": "JPEGLossless",  # process 14, any predictor (7 here)
    "jpeg_lossless_sv1": "JPEGLosslessSV1",  # process 14, selection value 1
    "jpegls": "JPEGLSLossless",
    "jpegls_near": "JPEGLSNearLossless",
    "j2k_lossless": "JPEG2000Lossless",
    "j2k": "JPEG2000",  # lossy (irreversible wavelet)
}

LOSSY = ("jpeg_baseline", "jpeg_extended", "jpegls_near", "j2k")

# How far a lossy film written by write_dicom's defaults may lie from its stored values:
# JPEG-LS near-lossless bounds every pixel by NEAR; the others are bounded in RMS, as a
# fraction of the stored range (measured on phantoms: JPEG q90 ~0.3 %, J2K 10:1 ~0.5 %).
JLS_NEAR = 2
JPEG_QUALITY = 90
J2K_RATIO = 10.0
LOSSY_RMS_TOLERANCE = 0.01


def is_dicom(path: Path) -> bool:
    if path.suffix.lower() in DICOM_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


# -- the libjpeg-turbo plugin (pydicom's decoder-plugin interface: DECODER_DEPENDENCIES,
#    is_available(uid), a frame function) -------------------------------------------------------

# JPEG baseline, extended, lossless (process 14) and lossless SV1; pydicom.uid would import pydicom
_JPEG_UIDS = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70")
DECODER_DEPENDENCIES = {u: ("imagecodecs>=2024.1.1",) for u in _JPEG_UIDS}


def is_available(uid) -> bool:
    """pydicom plugin check: imagecodecs with libjpeg-turbo 3 (the first with 12-bit and lossless)."""
    try:
        import imagecodecs
    except ImportError:
        return False
    return uid in DECODER_DEPENDENCIES and bool(imagecodecs.JPEG8.available)


def _decode_jpeg_frame(src: bytes, runner) -> bytes:
    """One JPEG frame (any process, 2-16 bits) -> its samples; pydicom corrects the unused bits and
    the sign afterwards. Colour frames are left to Pillow, which keeps pydicom's YBR convention."""
    import imagecodecs

    if runner.samples_per_pixel != 1:
        raise NotImplementedError("the libjpeg-turbo plugin decodes single-sample (grey) JPEG only")
    arr = imagecodecs.jpeg8_decode(src)
    runner.set_option("bits_allocated", 8 * arr.dtype.itemsize)  # the container follows the precision
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


_registered = False


def register_decoders() -> None:
    """Add the libjpeg-turbo plugin to pydicom's JPEG decoders (once; after pydicom's own, so it is
    tried when they are missing or refuse, as for 12-bit data)."""
    global _registered
    if _registered:
        return
    from pydicom.pixels import get_decoder

    for u in _JPEG_UIDS:
        try:
            get_decoder(u).add_plugin("imagecodecs", (__name__, "_decode_jpeg_frame"))
        except ValueError:  # already there (this module imported twice, e.g. reloaded)
            pass
    _registered = True


def open_dicom(path: Path, **kw):
    """pydicom Dataset with pixel data, or InputError. ``kw`` go to ``dcmread``."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    register_decoders()  # before anyone asks pydicom which syntaxes it can decode
    try:
        ds = pydicom.dcmread(path, **kw)
    except InvalidDicomError:
        try:  # old files without the 128-byte preamble
            ds = pydicom.dcmread(path, force=True, **kw)
            ok = "PixelData" in ds and "Rows" in ds
        except Exception:
            ok = False
        if not ok:
            raise InputError(path, "not a DICOM file (no DICM header, no pixel data)") from None
    except Exception as e:
        raise InputError(path, f"corrupt DICOM file ({type(e).__name__}: {one_line(e)})") from None
    if "PixelData" not in ds and not kw.get("stop_before_pixels"):
        raise InputError(path, "DICOM file has no pixel data")
    return ds


def transfer_syntax_name(ds) -> str:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return str(getattr(ts, "name", None) or ts or "unknown")


def dicom_attributes(path) -> dict:
    """What the header says about the film, without decoding it: ``{"modality", "body_part",
    "photometric", "transfer_syntax"}`` (upper-case strings; "" where absent)."""
    ds = open_dicom(Path(path), stop_before_pixels=True)
    get = lambda k, d="": " ".join(str(ds.get(k, d) or d).split()).upper()  # noqa: E731
    return {"modality": get("Modality"), "body_part": get("BodyPartExamined"),
            "photometric": get("PhotometricInterpretation", "MONOCHROME2"), "transfer_syntax": transfer_syntax_name(ds)}


def dicom_pixels(path, ds=None) -> np.ndarray:
    """The stored values of the first frame ((H,W), or (H,W,3) RGB for colour), decoded by the
    plugins of the module docstring, or InputError naming the transfer syntax."""
    from pydicom.pixels import get_decoder

    register_decoders()
    ds = open_dicom(Path(path)) if ds is None else ds
    ts = getattr(ds.file_meta, "TransferSyntaxUID", None)
    try:
        if ts is not None and ts.is_compressed and not get_decoder(ts).is_available:
            raise InputError(path, f"no decoder installed for transfer syntax {transfer_syntax_name(ds)} "
                                   f"(reinstall baa: pip install -e .)")
    except NotImplementedError:
        raise InputError(path, f"unsupported transfer syntax {transfer_syntax_name(ds)}") from None
    try:
        raw = ds.pixel_array
    except Exception as e:
        raise InputError(
            path,
            f"cannot decode DICOM pixel data (transfer syntax {transfer_syntax_name(ds)}: "
            f"{type(e).__name__}: {one_line(e)})",
        ) from None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        log.info("%s: %d frames, using the first", path, frames)
        raw = raw[0]
    return raw


def read_dicom(path: Path) -> np.ndarray:
    """DICOM -> display values: modality LUT (slope/intercept), VOI LUT or window, MONOCHROME1
    inverted so bone is bright. pydicom's ``pixel_array`` alone gives raw stored values."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = open_dicom(path)
    raw = dicom_pixels(path, ds)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if raw.ndim == 3:  # colour (RGB / YBR already converted to RGB by pydicom)
        a = raw.astype(np.float32)
        return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
    try:
        arr = apply_modality_lut(raw, ds).astype(np.float64)
        voi = apply_voi_lut(arr, ds)
    except Exception as e:
        raise InputError(path, f"invalid DICOM rescale/window/LUT ({type(e).__name__}: {one_line(e)})") from None
    arr = np.asarray(voi, dtype=np.float64)
    if photometric == "MONOCHROME1":  # minimum value is white: flip so bone is bright
        arr = arr.max() + arr.min() - arr
    return arr


# -- writing ------------------------------------------------------------------------------------

def _syntax(transfer_syntax):
    """(short name or None, UID) of a short name of SYNTAXES or a UID."""
    from pydicom import uid

    if transfer_syntax is None:
        return "explicit_le", uid.ExplicitVRLittleEndian
    if transfer_syntax in SYNTAXES:
        return transfer_syntax, getattr(uid, SYNTAXES[transfer_syntax])
    u = uid.UID(str(transfer_syntax))
    name = next((n for n, k in SYNTAXES.items() if getattr(uid, k) == u), None)
    return name, u


def _jpeg(stored: np.ndarray, name: str, bits: int, quality: int) -> bytes:
    """A JPEG codestream of ``stored`` for ``name``: baseline by Pillow, extended (12-bit) and
    lossless (process 14: predictor 7; SV1: predictor 1) by libjpeg-turbo 3 through imagecodecs."""
    if name == "jpeg_baseline":
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(stored.astype(np.uint8)).save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    import imagecodecs

    a = stored.astype(np.uint16 if bits > 8 else np.uint8)
    if name == "jpeg_extended":
        return imagecodecs.jpeg8_encode(a, level=quality, bitspersample=bits)
    return imagecodecs.jpeg8_encode(a, lossless=True, predictor=1 if name == "jpeg_lossless_sv1" else 7,
                                    bitspersample=bits)


def write_dicom(path, stored: np.ndarray, photometric: str = "MONOCHROME2", slope: float | None = None,
                intercept: float | None = None, window: tuple[float, float] | None = None,
                transfer_syntax=None, *, bits_stored: int | None = None, quality: int = JPEG_QUALITY,
                modality: str = "CR", body_part: str | None = None) -> Path:
    """A secondary-capture DICOM of ``stored`` (non-negative integer values; (H,W,3) uint8 for an
    RGB film) in ``transfer_syntax`` (a short name of ``SYNTAXES`` or a UID; default explicit VR
    little endian), with optional rescale slope/intercept, VOI window, Modality and
    BodyPartExamined. ``bits_stored``: default 8 for JPEG baseline and RGB, 12 for JPEG extended,
    else 16. Lossy syntaxes use ``quality`` (JPEG), NEAR = ``JLS_NEAR`` (JPEG-LS) and a 10:1 ratio
    (JPEG 2000). The same arguments give the same bytes (UIDs are derived from the content)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    name, ts = _syntax(transfer_syntax)
    stored = np.asarray(stored)
    rgb = stored.ndim == 3
    bits = int(bits_stored or (8 if rgb or name == "jpeg_baseline" else 12 if name == "jpeg_extended" else 16))
    if stored.size and (stored.min() < 0 or stored.max() > 2 ** bits - 1):
        raise ValueError(f"stored values {stored.min():g}..{stored.max():g} do not fit {bits} bits")
    if name in ("j2k", "j2k_lossless") and min(stored.shape[:2]) < 32:
        raise ValueError("JPEG 2000 needs at least 32 pixels a side (OpenJPEG's encoder uses 6 resolutions)")
    if rgb and (stored.shape[2] != 3 or bits != 8):
        raise ValueError("a colour film is (H,W,3) with 8 bits a sample")
    container = "<u1" if bits <= 8 else "<u2"
    values = np.ascontiguousarray(stored).astype(container)
    seed = hashlib.sha256(values.tobytes() + repr((photometric, slope, intercept, window, str(ts), bits, quality,
                                                   modality, body_part)).encode()).hexdigest()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[seed])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian if name in ("rle", "jpegls", "jpegls_near", "j2k_lossless", "j2k") else ts
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    if body_part:
        ds.BodyPartExamined = body_part
    ds.Rows, ds.Columns = stored.shape[:2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = (3, "RGB") if rgb else (1, photometric)
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8 * values.itemsize, bits, bits - 1, 0
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "US"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if name in ("rle", "jpegls", "jpegls_near", "j2k_lossless", "j2k"):  # pydicom's own encoders
        ds.PixelData = values.tobytes()
        kw = {"jls_error": JLS_NEAR} if name == "jpegls_near" else {"j2k_cr": [J2K_RATIO]} if name == "j2k" else {}
        ds.compress(ts, values, generate_instance_uid=False, **({"encoding_plugin": "pydicom"} if name == "rle" else {}), **kw)
    elif name in ("jpeg_baseline", "jpeg_extended", "jpeg_lossless", "jpeg_lossless_sv1"):
        if rgb and name != "jpeg_baseline":
            raise ValueError(f"{name}: colour films are written as JPEG baseline only")
        if rgb:
            buf = io.BytesIO()
            from PIL import Image

            Image.fromarray(values).save(buf, "JPEG", quality=quality)
            ds.PixelData, ds.PhotometricInterpretation = encapsulate([buf.getvalue()]), "YBR_FULL_422"
        else:
            ds.PixelData = encapsulate([_jpeg(values, name, bits, quality)])
    elif ts.is_compressed:
        raise ValueError(f"no encoder for transfer syntax {ts.name}")
    else:  # uncompressed: big endian stores its words big-endian
        ds.PixelData = values.astype(values.dtype.newbyteorder(">" if name == "explicit_be" else "<")).tobytes()
    if ts.is_compressed:
        ds["PixelData"].VR = "OB"
        if name in LOSSY:
            ds.LossyImageCompression = "01"
    ds.save_as(path, enforce_file_format=True)
    return Path(path)
