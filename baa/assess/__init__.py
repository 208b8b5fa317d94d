"""Any radiograph file to an age: the one preparation path, then a trained pipeline.
Layer: assess (above analysis)."""
