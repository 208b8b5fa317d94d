"""The synthetic left-hand radiograph: anatomy and maturity tables (``anatomy``), the hand's geometry
(``scene``), the X-ray renderer (``render``), datasets and the RSNA-layout writer (``dataset``).

Layer: phantom (beside data, above io).
"""

from baa.phantom.anatomy import (CARPAL_NAMES, CENTRES, EPIPHYSES, EVENTS, FINGERS, PhantomConfig, maturity_state,
                                 sample_subjects, timing_offsets)
from baa.phantom.dataset import SPLIT_OFFSET, PhantomDataset, age_grid, code_version, default_workers, write_rsna
from baa.phantom.render import render

__all__ = ["CARPAL_NAMES", "CENTRES", "EPIPHYSES", "EVENTS", "FINGERS", "PhantomConfig", "PhantomDataset", "SPLIT_OFFSET",
           "age_grid", "code_version", "default_workers", "maturity_state", "render", "sample_subjects", "timing_offsets",
           "write_rsna"]
