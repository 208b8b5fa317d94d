"""Files in and out: any radiograph (PNG, JPEG, TIFF, DICOM) to a float image, images and JSON written
atomically. Layer: io (above the vocabulary, below everything else)."""

from baa.io.atomic import atomic_path, save_json, save_torch
from baa.io.dicom import write_dicom
from baa.io.images import (IMAGE_EXTENSIONS, MIN_SIDE, detect_inverted, normalize, normalize_images, read_image,
                           resize_pad, save_image, strip_uniform_borders)

__all__ = ["IMAGE_EXTENSIONS", "MIN_SIDE", "atomic_path", "detect_inverted", "normalize", "normalize_images",
           "read_image", "resize_pad", "save_image", "save_json", "save_torch", "strip_uniform_borders", "write_dicom"]
