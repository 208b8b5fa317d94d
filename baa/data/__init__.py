"""Datasets: the in-memory container, the public label formats and their loaders, augmentation and
test-time views, k-fold splits. Layer: data (above io)."""

from baa.data.augment import (BLUR_MAX_SIGMA, BLUR_P, MAX_ROTATION, MAX_SHIFT, P_WARP, TTA_VIEWS, ZOOM, augment,
                              blur_augment, flip_augment, grow, morphology_augment, tta_views)
from baa.data.dataset import AGE_RANGE_YEARS, BoneAgeData
from baa.data.formats import RSNA_CSV, RSNA_IMAGES
from baa.data.load import load, load_csv, load_dha, load_rsna, summarize
from baa.data.splits import kfold_splits

__all__ = ["AGE_RANGE_YEARS", "BLUR_MAX_SIGMA", "BLUR_P", "BoneAgeData", "MAX_ROTATION", "MAX_SHIFT", "P_WARP",
           "RSNA_CSV", "RSNA_IMAGES", "TTA_VIEWS", "ZOOM", "augment", "blur_augment", "flip_augment", "grow",
           "kfold_splits", "load", "load_csv", "load_dha", "load_rsna", "morphology_augment", "summarize", "tta_views"]
