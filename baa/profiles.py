"""Run profiles: every size, count and schedule that differs between a test run, a 2-core CPU book
and the paper's GPU setup lives here and nowhere else.

Choose one with a single parameter: ``get_profile("cpu")``, or ``get_profile()`` which reads the
``BAA_PROFILE`` environment variable (default ``cpu``). ``pytest --nbval`` sets ``BAA_PROFILE=smoke``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

DEFAULT_PROFILE = "cpu"


@dataclass(frozen=True)
class Profile:
    name: str
    image_size: int  # network input side; paper: 256 (Table 1)
    width: float  # channel multiplier for BoNet+ and ResUNet; paper: 1.0
    n_images: int  # phantom images for the experiments; paper: ~1400 DHA images
    n_test: int  # held-out phantom images for the real-world assessment (Tables 4-5)
    folds: int  # k of k-fold CV for the loss comparison; paper: 5
    cv_folds_run: int  # how many of the k folds are trained (all at the paper profile)
    epochs_regressor: int
    epochs_classifier: int
    epochs_resunet: int
    batch_regressor: int = 20  # section 4.1
    batch_classifier: int = 16  # section 4.1
    batch_resunet: int = 8  # section 4.1
    lr_regressor: float = 1e-4  # section 4.1
    lr_classifier: float = 2e-4  # section 4.1
    lr_resunet: float = 2e-4  # section 4.1
    resunet_depth: int = 5  # max pools in the U-Net; paper: 5 (23 convs)
    classifier_width: float = 1.0
    classifier_hidden: int = 0  # fully connected units; 0: VGG's 4096 x classifier_width
    classifier_size: int = 0  # side the classifier sees (images are area-resized); 0: image_size
    n_bench: int = 64  # held-out images for restoration / speed measurements
    train_bf16: bool = False  # bf16 autocast training on a CPU with native bf16 (TrainConfig.amp_cpu); CUDA always
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def replace(self, **kw) -> "Profile":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    # Seconds per chapter: proves that every line runs, numbers mean nothing.
    "smoke": Profile(
        name="smoke", image_size=64, width=0.125, n_images=80, n_test=24, folds=2, cv_folds_run=1,
        epochs_regressor=4, epochs_classifier=3, epochs_resunet=3, lr_regressor=2e-3, lr_classifier=1e-3,
        lr_resunet=1e-3, resunet_depth=3, classifier_width=0.25, classifier_hidden=64, n_bench=8,
    ),
    # The default book on a 2-core CPU in under an hour, large enough to show the effects. Where the
    # CPU has bf16 kernels (AMX, AVX512-BF16) it trains in bf16, ~2.4x the images/s of fp32 (chapter 8),
    # and spends that on epochs; elsewhere the same epochs run in fp32, slower.
    "cpu": Profile(
        name="cpu", image_size=96, width=0.25, n_images=1000, n_test=300, folds=5, cv_folds_run=2,
        epochs_regressor=30, epochs_classifier=3, epochs_resunet=15, batch_resunet=16,
        lr_regressor=1e-3, lr_resunet=1e-3, resunet_depth=4, classifier_width=0.25, classifier_hidden=256, n_bench=128,
        train_bf16=True,
    ),
    # The paper's sizes and schedules, for a GPU kernel.
    "paper": Profile(
        name="paper", image_size=256, width=1.0, n_images=1400, n_test=400, folds=5, cv_folds_run=5,
        epochs_regressor=150, epochs_classifier=200, epochs_resunet=75, n_bench=200,
    ),
}


def get_profile(name: str | Profile | None = None) -> Profile:
    """The profile called ``name``; ``None`` reads ``BAA_PROFILE`` (default ``cpu``)."""
    if isinstance(name, Profile):
        return name
    name = name or os.environ.get("BAA_PROFILE") or DEFAULT_PROFILE
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
