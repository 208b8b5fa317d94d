"""The paper's published numbers (Guo et al. 2020), to print beside ours. Nothing here is ours:
every value is copied from the paper's tables and text (``../shared/reference/paper.txt``)."""

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
PIPELINE_NAMES = {"plain": "BoNet+", "cq": "BoNet+_CQ", "dq": "BoNet+_DQ", "nq": "BoNet+_NQ"}
