"""Results files tied to the preparation that made their inputs (``baa.data.prepare.VERSION``): a file measured
on inputs another preparation made is moved aside when a new measurement begins, never added to, so figures of
two preparations never mix in one table (chapter 11 shows the earlier ones apart).

Layer: experiments.
"""

from __future__ import annotations

import json
from pathlib import Path

from baa.data.prepare import VERSION as PREPARATION


def archived(version: int, path: Path) -> Path:
    """Where the results in ``path`` measured with an earlier preparation are kept."""
    return Path(path).with_name(f"{Path(path).stem}_prep{version}.json")


def begin(path: Path, empty: dict) -> dict:
    """The results in ``path`` to add to, stamped with the current preparation: ``empty`` when there are none or
    when they were measured with another preparation (that file is moved to ``archived``)."""
    path = Path(path)
    res = json.loads(path.read_text()) if path.exists() else {}
    if res and res.get("preparation", 1) != PREPARATION:  # files before version 2 carry no stamp
        path.rename(archived(res.get("preparation", 1), path))
        res = {}
    return {**empty, **res, "preparation": PREPARATION}


def load(path: Path) -> dict | None:
    """The results in ``path`` if they were measured with the current preparation, else None."""
    path = Path(path)
    res = json.loads(path.read_text()) if path.exists() else None
    return res if res is not None and res.get("preparation", 1) == PREPARATION else None
