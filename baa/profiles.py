"""Run profiles: every size, count and schedule that differs between a test run, a 2-core CPU book
and the paper's GPU setup lives here and nowhere else.

A profile is resolved once, at the edge: the CLI's ``--profile``, the book and a notebook's
``profile`` parameter call ``get_profile`` (a name, or ``None`` for ``$BAA_PROFILE``, default
``DEFAULT_PROFILE``); every library function takes the ``Profile``.

The data set is chosen the same way: ``data_spec`` (``--data DIR --format F``, the book's ``data``
parameter) gives a ``DataSpec`` that the profile carries (``Profile.with_data``).

Layer: the base (imports only ``baa.errors``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from baa.errors import InputError

DEFAULT_PROFILE = "cpu"


FORMATS = ("rsna", "dha", "csv")


@dataclass(frozen=True)
class DataSpec:
    """The data every experiment of a run uses: the phantom (``root`` None), or a labelled folder
    or CSV in ``format``, with an optional separate held-out ``test_root`` (e.g. RSNA's test set)."""

    root: str | None = None
    format: str = "rsna"
    test_root: str | None = None

    @property
    def phantom(self) -> bool:
        return self.root is None

    @property
    def name(self) -> str:
        """``phantom``, or the dataset's folder name (a CSV: its folder's name)."""
        if self.root is None:
            return "phantom"
        p = Path(self.root)
        return (p.parent if p.is_file() else p).resolve().name


PHANTOM = DataSpec()


def data_spec(data: str | os.PathLike | None = None, data_format: str | None = "rsna",
              test_data: str | os.PathLike | None = None) -> DataSpec:
    """The ``DataSpec`` a user asked for (``--data DIR --format F [--test-data DIR]``); the phantom
    when ``data`` is empty. Raises ``InputError`` for a missing folder or an unknown format."""
    if not data:
        return PHANTOM
    fmt = str(data_format or "rsna").lower()
    if fmt not in FORMATS:
        raise InputError(data, f"unknown dataset format {data_format!r} (choose {', '.join(FORMATS)})")
    for q in (data, test_data):
        if q and not Path(q).exists():
            raise InputError(q, "dataset folder not found")
    return DataSpec(str(Path(data).resolve()), fmt, str(Path(test_data).resolve()) if test_data else None)


@dataclass(frozen=True)
class Profile:
    """The sizes, counts and schedules of one run; each field notes the paper's value where it has one."""

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
    n_bench: int = 64  # held-out images for restoration / speed measurements
    train_bf16: bool = False  # bf16 autocast training on a CPU with native bf16 (TrainConfig.amp_cpu); CUDA always
    seed: int = 0
    trial: bool = False  # a run that proves every line runs (smoke, paper-dry): its numbers mean nothing
    data: DataSpec = PHANTOM  # the phantom, or a labelled dataset (data_spec, resolved at the edge)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def with_data(self, data: DataSpec) -> "Profile":
        """This profile's sizes and schedules on ``data`` (``data_spec``, resolved at the edge)."""
        return dataclasses.replace(self, data=data)

    def split_size(self, split: str) -> int:
        """Images in ``split``: ``train`` ``n_images``, ``test`` ``n_test``, ``bench`` ``n_bench`` (a real
        dataset may have fewer)."""
        return {"train": self.n_images, "test": self.n_test, "bench": self.n_bench}[split]

    @property
    def test_fraction(self) -> float:
        """The share of a real dataset held out for Tables 4-5 when no separate test set is given:
        the phantom's ratio of test to all images at this profile."""
        return self.n_test / (self.n_images + self.n_test)


PROFILES: dict[str, Profile] = {
    # Seconds per chapter: proves that every line runs, numbers mean nothing.
    "smoke": Profile(
        name="smoke", image_size=64, width=0.125, n_images=80, n_test=24, folds=2, cv_folds_run=1,
        epochs_regressor=4, epochs_classifier=3, epochs_resunet=3, lr_regressor=2e-3, lr_classifier=1e-3,
        lr_resunet=1e-3, resunet_depth=3, classifier_width=0.25, classifier_hidden=64, n_bench=8, trial=True,
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
# The paper's networks at the paper's size, every schedule capped at an epoch over a handful of images:
# the whole book at paper sizes on a CPU, so that a GPU run does not meet its first bug an hour in.
PROFILES["paper-dry"] = dataclasses.replace(
    PROFILES["paper"], name="paper-dry", n_images=16, n_test=8, cv_folds_run=1, epochs_regressor=1, epochs_classifier=1,
    epochs_resunet=1, n_bench=4, trial=True)


def is_trial(name: str) -> bool:
    """Whether the profile called ``name`` only proves that the code runs (smoke, paper-dry)."""
    return name in PROFILES and PROFILES[name].trial


def get_profile(name: str | Profile | None = None) -> Profile:
    """The profile called ``name`` (a ``Profile`` is returned as it is); ``None`` reads ``$BAA_PROFILE``,
    else ``DEFAULT_PROFILE``."""
    if isinstance(name, Profile):
        return name
    name = name or os.environ.get("BAA_PROFILE") or DEFAULT_PROFILE
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def resolve(profile: str | Profile | None = None, data: str | os.PathLike | None = None,
            data_format: str | None = "rsna", test_data: str | os.PathLike | None = None) -> Profile:
    """The run's profile on the run's data, resolved once at the edge: what a notebook's ``parameters``
    cell (``profile``, ``data``, ``data_format``, ``test_data``) or the CLI's ``--profile --data --format
    --test-data`` name. No ``data``: the phantom."""
    return get_profile(profile).with_data(data_spec(data, data_format, test_data))
