"""The paper's experiments on a profile, cached under ``artifacts/<profile>/``: Table 2, Tables 4-5,
Fig. 12, and the phantom's calibration. Layer: experiments (above train)."""
