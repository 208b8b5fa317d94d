"""The book: papermill and Jupyter Book (``python -m baa.book``), figures and live widgets.
Layer: book (top of the package; only the CLI is above it)."""
