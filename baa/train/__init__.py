"""Training: one Trainer for every network, the tasks, devices and precision.
Layer: train (above models)."""

from baa.train.device import bf16_supported, pick_device
from baa.train.tasks import (REGRESSOR_RECIPES, SEGMENTER_LOSSES, classifier_batches, fit_classifier, fit_regressor, fit_regressor_aligned,
                             fit_restorer, fit_segmenter, regression_val, regressor_batches, restorer_batches,
                             segmenter_batches)
from baa.train.trainer import TrainConfig, Trainer, adapt_batchnorm, load_checkpoint, predict, save_checkpoint

__all__ = ["REGRESSOR_RECIPES", "SEGMENTER_LOSSES", "TrainConfig", "Trainer", "adapt_batchnorm", "bf16_supported", "classifier_batches", "fit_classifier", "fit_regressor",
           "fit_regressor_aligned", "fit_restorer", "fit_segmenter", "load_checkpoint", "pick_device", "predict", "regression_val", "regressor_batches",
           "restorer_batches", "save_checkpoint", "segmenter_batches"]
