"""The paper's vocabulary and published numbers (Guo et al. 2020), each defined once.

The vocabulary (qualities, degradation kinds, pipeline names) is what every layer speaks; the numbers
are printed beside ours. Nothing here is measured: every value is copied from the paper's tables and
text (``../shared/reference/paper.txt``).

Layer: the base (imports nothing from ``baa``).
"""

# -- vocabulary -----------------------------------------------------------------------------------
KINDS = ("noise", "label", "lowres")  # section 3.1.2's degradations
QUALITIES = ("high",) + KINDS  # Fig. 7's four classes, in the classifier's output order
PIPELINES = ("plain", "cq", "dq", "nq")  # Fig. 10 and Tables 4-5
PIPELINE_NAMES = {"plain": "BoNet+", "cq": "BoNet+_CQ", "dq": "BoNet+_DQ", "nq": "BoNet+_NQ"}
BEYOND_SUFFIX = "_beyond"  # the same pipeline with BoNet+ trained beyond the paper (train.REGRESSOR_RECIPES)
BEYOND_PIPELINES = tuple(k + BEYOND_SUFFIX for k in PIPELINES)


CITATION = ("Guo J., Zhu J., Du H., Qiu B. A bone age assessment system for real-world X-ray images based on "
            "convolutional neural networks. Computers and Electrical Engineering 81 (2020) 106529.")
DATA = "Digital Hand Atlas (~1400 images), 5-fold CV, 256x256, GTX 1080 Ti"

# Table 2: BoNet+ trained with each loss, years, mean +- std over the 5 folds.
TABLE2 = {"mae": {"mae": (0.762, 0.103), "mdae": (0.603, 0.082)},
          "mse": {"mae": (0.872, 0.182), "mdae": (0.774, 0.117)}}

# Table 3: MAE (years) of earlier methods on the Digital Hand Atlas.
TABLE3 = {"Hsieh 2007": 2.57, "Gertych 2007": 2.10, "Giordano 2016": 1.82, "fine-tuned GoogLeNet 2017": 0.82,
          "BoNet 2017": 0.79, "BoNet+_MAE": 0.76}

# Tables 4 and 5: MAE and MdAE (years) of each pipeline on each quality.
TABLE4 = {"plain": {"high": 0.762, "noise": 1.124, "label": 1.065, "lowres": 1.215},
          "cq": {"high": 0.762, "noise": 0.909, "label": 0.804, "lowres": 0.769},
          "dq": {"high": 0.764, "noise": 0.922, "label": 0.808, "lowres": 0.767},
          "nq": {"high": 0.850, "noise": 0.967, "label": 0.876, "lowres": 0.879}}
TABLE5 = {"plain": {"high": 0.603, "noise": 0.828, "label": 0.774, "lowres": 1.071},
          "cq": {"high": 0.603, "noise": 0.788, "label": 0.662, "lowres": 0.714},
          "dq": {"high": 0.627, "noise": 0.774, "label": 0.663, "lowres": 0.692},
          "nq": {"high": 0.697, "noise": 0.825, "label": 0.752, "lowres": 0.799}}

DQ_ALL = {"mae": 0.824, "mdae": 0.733}  # DQ trained and tested with all three degradations at once
CLASSIFIER_ACCURACY = 0.98  # "over 98 %"
EXTERNAL_MAE = 1.017  # external test on a Chinese children's atlas
BONET_PLUS_PARAMS = "just less than 10 M"  # text, section 4.3
SECONDS_PER_EPOCH = {"regressor": 30, "classifier": 17, "resunet": 79}  # GTX 1080 Ti, section 4.1

# Table 1 as printed: (module of BoNetPlus, Table 1 row, channels, side) for a 1 x 256 x 256 input.
# ``tlN.0`` is the transition's 1x1 conv, ``tlN`` its output after the max pool.
TABLE1 = [("conv1", "Conv(1)", 96, 256), ("conv2", "Conv(2)", 96, 256), ("pool1", "Pooling(1)", 96, 128),
          ("db1", "DB(1)", 160, 128), ("tl1.0", "TL(1) conv", 128, 128), ("tl1", "TL(1) pool", 128, 64),
          ("db2", "DB(2)", 256, 64), ("tl2.0", "TL(2) conv", 128, 64), ("tl2", "TL(2) pool", 128, 32),
          ("db3", "DB(3)", 256, 32), ("tl3.0", "TL(3) conv", 128, 32), ("tl3", "TL(3) pool", 128, 16),
          ("db4", "DB(4)", 256, 16), ("tl4.0", "TL(4) conv", 128, 16), ("tl4", "TL(4) pool", 128, 8),
          ("db5", "DB(5)", 384, 8), ("tl5.0", "TL(5) conv", 256, 8), ("tl5", "TL(5) pool", 256, 4),
          ("db6", "DB(6)", 512, 4), ("tl6.0", "TL(6) conv", 256, 4), ("tl6", "TL(6) pool", 256, 2),
          ("tl7.0", "TL(7) conv", 1024, 2), ("tl7", "TL(7) pool", 1024, 1),
          ("conv3", "Conv(3)", 1024, 1), ("conv4", "Conv(4)", 512, 1), ("out", "OutLayer", 1, 1)]

# Section 3.3.1: "In total, we use 23 convolutional layers, 5 max pooling layers, 5 up-convolution layers,
# and 5 concatenation layers in this network."
RESUNET_LAYERS = {"conv": 23, "max_pool": 5, "up_conv": 5, "concat": 5}
