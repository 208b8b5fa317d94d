"""baa: bone age assessment for real-world X-ray images (Guo et al., 2020), made runnable.

Data flows one way: ``phantom``/``data`` -> ``degrade`` -> ``models`` -> ``train`` -> ``pipelines``
-> CLI and notebooks.
"""

__version__ = "0.1.0"
