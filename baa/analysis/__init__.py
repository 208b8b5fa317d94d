"""What the experiments mean: tables beside the paper's, the claims checked, saliency against known
bones, restoration quality and speed. Layer: analysis (above experiments)."""
