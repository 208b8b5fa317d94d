"""The paper's experiments on a profile, cached under ``artifacts/<profile>/`` (``artifacts``): the
phantom data sets (``datasets``), the networks, Table 2, Tables 4-5 and Fig. 12, and ``load_pipeline``
(``tables``), and the phantom's difficulty (``calibrate``, ``phantom_baselines``).

Layer: experiments (above train).
"""
