"""The paper's networks (Table 1's BoNet+, the ResUNet of section 3.3.1, the VGG quality classifier)
and the pipelines of Fig. 10. Layer: models (above degrade)."""

from baa.models.bonet import BONET_ROWS, BoNetPlus
from baa.models.handnet import HandClassifier
from baa.models.pipelines import CQPipeline, DQPipeline, PlainPipeline
from baa.models.quality import QualityClassifier
from baa.models.registry import MODELS, build_model, count_layers, count_parameters
from baa.models.resunet import BoneSegmenter, ResUNet

__all__ = ["BONET_ROWS", "BoNetPlus", "BoneSegmenter", "CQPipeline", "DQPipeline", "HandClassifier", "MODELS", "PlainPipeline", "QualityClassifier",
           "ResUNet", "build_model", "count_layers", "count_parameters"]
