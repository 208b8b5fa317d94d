"""Label files of the public datasets in their exact on-disk layouts (RSNA, Digital Hand Atlas,
any CSV), read into one table of image paths, ages in years and sexes.

Layer: data.
"""

from __future__ import annotations
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
import numpy as np
import pandas as pd
from baa.errors import InputError
from baa.io.images import IMAGE_EXTENSIONS


_TRUE = {"true", "t", "1", "1.0", "m", "male", "man", "boy", "yes", "y"}


_FALSE = {"false", "0", "0.0", "f", "female", "woman", "girl", "no", "n"}


def _parse_sex(values: Iterable[Any]) -> np.ndarray:
    """RSNA ``male`` True/False/1/0 or ``sex`` M/F -> 1/0, anything else NaN (unknown)."""
    out = []
    for v in values:
        s = str(v).strip().lower() if v is not None and not (isinstance(v, float) and math.isnan(v)) else ""
        out.append(1.0 if s in _TRUE else 0.0 if s in _FALSE else math.nan)
    return np.asarray(out, dtype=np.float32)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "CSV file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a CSV file")
    try:
        df = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(path, "empty CSV file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise InputError(path, f"not a readable CSV ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _norm_col(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _find_col(df: pd.DataFrame, candidates: Sequence[str]) -> str | None:
    """First column matching one of ``candidates``, ignoring case, spaces and punctuation."""
    by_norm = {_norm_col(c): c for c in df.columns}
    for cand in candidates:
        if cand in df.columns:
            return cand
        hit = by_norm.get(_norm_col(cand))
        if hit is not None:
            return hit
    return None


def _missing_columns(csv: Path, df: pd.DataFrame, missing: Sequence[str]) -> InputError:
    return InputError(
        csv, f"missing column(s) {', '.join(missing)}; the CSV has columns {', '.join(map(str, df.columns))}"
    )


def _stem(value: Any) -> str:
    """'7186', '7186.jpg', 'JPEGimages/CAUM/CAUM12/7186.jpg' or a URL -> '7186'."""
    s = str(value).strip().split("?")[0]
    s = re.split(r"[\\/]", s)[-1]
    base, ext = os.path.splitext(s)
    return base if ext.lower() in IMAGE_EXTENSIONS else s


def _resolve(root: Path, name: str, subdir: str | None = None) -> tuple[Path, bool]:
    """Find the image ``name`` (optionally under ``subdir``) below ``root``; returns (path, exists)."""
    rel = Path(str(name).strip())
    if rel.is_absolute():
        cands = [rel]
    else:
        cands = []
        if subdir and str(subdir).strip() and str(subdir).lower() != "nan":
            cands.append(root / str(subdir).strip() / rel)
        cands.append(root / rel)
    if rel.suffix.lower() not in IMAGE_EXTENSIONS:
        cands += [c.with_name(c.name + ext) for c in list(cands) for ext in (".png", ".jpg", ".jpeg", ".dcm", ".tif")]
    for c in cands:
        if c.is_file():
            return c, True
    return cands[0], False


def _to_years(months_or_years: np.ndarray, units: str, where: Path) -> np.ndarray:
    u = str(units).lower()
    if u in ("months", "month", "m"):
        return months_or_years / 12.0
    if u in ("years", "year", "y"):
        return months_or_years
    raise InputError(where, f"unknown age units {units!r} (use 'months' or 'years')")


@dataclass


class _Table:
    rows: pd.DataFrame
    source: str
    where: Path  # the CSV (or root) named in errors
    units: str = "months"
    problems: list[str] = field(default_factory=list)
    extra_cols: tuple[str, ...] = ()


def _make_rows(ids, paths, exists, age_raw, age_years, male, **extra) -> pd.DataFrame:
    d = {
        "id": [str(i) for i in ids],
        "path": [str(p) for p in paths],
        "exists": list(exists),
        "age_raw": list(age_raw),
        "age_years": np.asarray(age_years, dtype=np.float64),
        "male": np.asarray(male, dtype=np.float32),
    }
    d.update(extra)
    return pd.DataFrame(d)


def _numeric(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


RSNA_CSV = "boneage-training-dataset.csv"


RSNA_IMAGES = "boneage-training-dataset"


def _rsna_table(root: str | os.PathLike, csv_name: str = RSNA_CSV, image_dir: str = RSNA_IMAGES) -> _Table:
    root = Path(root)
    if root.is_file():  # the CSV itself was given
        csv, root = root, root.parent
    else:
        if not root.exists():
            raise InputError(root, "dataset folder not found")
        csv = root / csv_name
        if not csv.exists():
            found = sorted(p.name for p in root.glob("*.csv"))
            if len(found) == 1:
                csv = root / found[0]
            else:
                raise InputError(csv, f"RSNA label CSV not found (CSV files in the folder: {found or 'none'})")
    df = _read_csv(csv)
    # training CSV: id,boneage,male; validation: Image ID,male,Bone Age (months); test: Case ID,Sex,...
    id_col = _find_col(df, ["id", "Image ID", "Case ID", "image_ID"])
    age_col = _find_col(df, ["boneage", "Bone Age (months)", "Ground truth bone age (months)", "bone_age"])
    sex_col = _find_col(df, ["male", "Sex", "gender"])
    missing = [n for n, c in (("id", id_col), ("boneage", age_col)) if c is None]
    if missing:
        raise _missing_columns(csv, df, missing)
    img_dir = root
    for cand in (root / image_dir / image_dir, root / image_dir):  # Kaggle zips nest the folder
        if cand.is_dir() and next(cand.glob("*.png"), None) is not None:
            img_dir = cand
            break
    ids = [str(v).strip() for v in df[id_col]]
    resolved = [_resolve(img_dir, i if Path(i).suffix else f"{i}.png") for i in ids]
    months = _numeric(df[age_col])
    male = _parse_sex(df[sex_col]) if sex_col else np.full(len(df), np.nan, np.float32)
    rows = _make_rows(ids, [r[0] for r in resolved], [r[1] for r in resolved], df[age_col].tolist(), months / 12.0, male)
    t = _Table(rows, f"rsna:{root}", csv, "months")
    if sex_col is None:
        t.problems.append(f"no sex column (male/Sex) in {csv.name}: sex unknown for all images")
    return t


_DHA_GROUP = re.compile(r"^(ASI|BLK|CAU|HIS)([FM])(\d{1,2})$", re.IGNORECASE)


_DHA_RACESEX = re.compile(r"^(ASI|BLK|CAU|HIS)([FM])$", re.IGNORECASE)


def _dha_index(tree: Path) -> dict[str, dict]:
    """stem -> {path, race, male, group, dup} for every image under the DHA tree
    ``JPEGimages/{RACE}{SEX}/{RACE}{SEX}{AA}/{id}.jpg`` (datasets.md)."""
    index: dict[str, dict] = {}
    for p in sorted(tree.rglob("*")):
        if p.suffix.lower() not in IMAGE_EXTENSIONS or not p.is_file():
            continue
        race, male, group = None, math.nan, None
        m = _DHA_GROUP.match(p.parent.name)
        if m:
            race, male, group = m.group(1).upper(), 1.0 if m.group(2).upper() == "M" else 0.0, int(m.group(3))
        else:
            m = _DHA_RACESEX.match(p.parent.name)
            if m:
                race, male = m.group(1).upper(), 1.0 if m.group(2).upper() == "M" else 0.0
        entry = {"path": p, "race": race, "male": male, "group": group, "dup": []}
        if p.stem in index:
            index[p.stem]["dup"].append(p)
        else:
            index[p.stem] = entry
    return index


def _dha_csv(root: Path, tree: Path, metadata_csv, reading_cols: Sequence[str], id_col: str, age_col: str) -> Path:
    """The DHA's label CSV: ``metadata_csv`` (looked up in ``root`` when not found as given), else the
    one CSV in ``root`` or in its image tree."""
    if metadata_csv is None:
        found = sorted(root.glob("*.csv")) or sorted(tree.glob("*.csv"))
        if len(found) != 1:
            raise InputError(
                root,
                "no metadata CSV given and "
                + (f"several CSVs found ({', '.join(p.name for p in found)})" if found else "none found")
                + f": pass metadata_csv= (columns {id_col},{','.join(reading_cols)} or image_ID,{age_col})",
            )
        return found[0]
    csv = Path(metadata_csv)
    if not csv.is_absolute() and not csv.exists() and (root / csv).exists():
        csv = root / csv
    return csv


def _dha_ages(df: pd.DataFrame, csv: Path, reading_cols: Sequence[str], age_col: str,
              problems: list[str]) -> tuple[np.ndarray, list]:
    """Each row's age (CSV units) and its text: the mean of the two readings when the CSV has them,
    else its one bone-age column."""
    read_found = [_find_col(df, [c]) for c in reading_cols]
    if all(c is not None for c in read_found):
        vals = np.stack([_numeric(df[c]) for c in read_found], axis=1)
        n_one = int((np.isfinite(vals).sum(axis=1) == 1).sum())
        if n_one:
            problems.append(f"{n_one} rows with only one reading (its value used as ground truth)")
        # ground truth = mean of the two radiologists' readings (paper section 4.1); one missing
        # reading -> the other; none -> NaN (reported / refused later)
        cnt = np.isfinite(vals).sum(axis=1)
        tot = np.where(np.isfinite(vals), vals, 0.0).sum(axis=1)
        raw_age = np.divide(tot, cnt, out=np.full(len(df), np.nan), where=cnt > 0)
        return raw_age, [" / ".join(str(df[c].iloc[i]) for c in read_found) for i in range(len(df))]
    a_col = _find_col(df, [age_col, "boneage", "Bone Age (months)"])
    if a_col is None:
        miss = [c for c, f in zip(reading_cols, read_found) if f is None]
        raise InputError(
            csv,
            f"missing column(s) {', '.join(miss)} (two readings) or {age_col} (one bone age); "
            f"the CSV has columns {', '.join(map(str, df.columns))}",
        )
    return _numeric(df[a_col]), df[a_col].tolist()


def _dha_match(df: pd.DataFrame, csv: Path, root: Path, index: dict, id_col: str, sex_col: str | None,
               problems: list[str]) -> dict[str, list]:
    """Each row's image: found in the tree by its number (sex, race and age group from the folder
    names), else resolved from the CSV's path; the CSV's sex where the folder gives none."""
    i_col = _find_col(df, [id_col, "image_ID", "id", "image", "filename", "path"])
    if i_col is None:
        raise _missing_columns(csv, df, [id_col])
    dir_col = _find_col(df, ["dir"])
    s_col = _find_col(df, [sex_col] if sex_col else ["sex", "gender", "male"])
    csv_male = _parse_sex(df[s_col]) if s_col else np.full(len(df), np.nan, np.float32)
    out: dict[str, list] = {k: [] for k in ("ids", "paths", "exists", "male", "race", "group")}
    conflicts = 0
    for k, raw in enumerate(df[i_col].tolist()):
        stem = _stem(raw)
        hit = index.get(stem)
        if hit is not None:
            p, ok = hit["path"], True
        else:
            p, ok = _resolve(root, str(raw).strip(), df[dir_col].iloc[k] if dir_col else None)
            hit = {}
        m_folder = hit.get("male", math.nan)
        m_csv = float(csv_male[k])
        if not math.isnan(m_folder) and not math.isnan(m_csv) and m_folder != m_csv:
            conflicts += 1
        for key, v in (("ids", stem), ("paths", p), ("exists", ok), ("race", hit.get("race")), ("group", hit.get("group")),
                       ("male", m_folder if not math.isnan(m_folder) else m_csv)):  # folder name wins (datasets.md)
            out[key].append(v)
    if conflicts:
        problems.append(f"{conflicts} rows whose CSV sex contradicts the folder name (folder used)")
    return out


def _dha_table(root, metadata_csv=None, reading_cols=("reading1", "reading2"), id_col="id", units="months",
               age_col="bone_age", sex_col=None) -> _Table:
    """``load_dha``'s table (its arguments, typed and documented there)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "DHA folder not found" if not root.exists() else "expected the DHA folder, got a file")
    tree = root / "JPEGimages" if (root / "JPEGimages").is_dir() else root
    index = _dha_index(tree)
    csv = _dha_csv(root, tree, metadata_csv, reading_cols, id_col, age_col)
    df = _read_csv(csv)
    problems: list[str] = []
    raw_age, age_raw_text = _dha_ages(df, csv, reading_cols, age_col, problems)
    m = _dha_match(df, csv, root, index, id_col, sex_col, problems)
    dups = {s: e["dup"] for s, e in index.items() if e["dup"]}
    if dups:
        s0 = next(iter(dups))
        problems.append(f"{len(dups)} image numbers appear in several folders (first: {s0}; the first path is used)")
    unlabelled = len(set(index) - set(m["ids"]))
    if unlabelled:
        problems.append(f"{unlabelled} images in {tree.name} have no row in {csv.name} (ignored)")
    rows = _make_rows(m["ids"], m["paths"], m["exists"], age_raw_text, _to_years(raw_age, units, csv), m["male"],
                      race=m["race"], age_group=m["group"])
    return _Table(rows, f"dha:{root}", csv, units, problems, extra_cols=("race", "age_group"))


def _csv_table(csv_path, image_root=None, path_col=None, age_col=None, sex_col=None, age_units="months", id_col=None,
               dir_col="dir") -> _Table:
    """``load_csv``'s table (its arguments, typed and documented there)."""
    csv = Path(csv_path)
    df = _read_csv(csv)
    root = Path(image_root) if image_root is not None else csv.parent
    p_col = _find_col(df, [path_col] if path_col else ["path", "image_path", "file", "filename", "image_ID", "image", "id"])
    a_col = _find_col(df, [age_col] if age_col else ["bone_age", "boneage", "bone_age_months", "Bone Age (months)", "age"])
    missing = [n for n, c in ((path_col or "path/image_ID", p_col), (age_col or "bone_age", a_col)) if c is None]
    if missing:
        raise _missing_columns(csv, df, missing)
    s_col = _find_col(df, [sex_col] if sex_col else ["sex", "male", "gender"])
    if sex_col and s_col is None:
        raise _missing_columns(csv, df, [sex_col])
    d_col = _find_col(df, [dir_col]) if dir_col else None
    i_col = _find_col(df, [id_col]) if id_col else None
    if id_col and i_col is None:
        raise _missing_columns(csv, df, [id_col])
    names = [str(v).strip() for v in df[p_col]]
    resolved = [_resolve(root, n, df[d_col].iloc[k] if d_col else None) for k, n in enumerate(names)]
    ids = [str(v).strip() for v in df[i_col]] if i_col else [_stem(n) for n in names]
    male = _parse_sex(df[s_col]) if s_col else np.full(len(df), np.nan, np.float32)
    rows = _make_rows(
        ids, [r[0] for r in resolved], [r[1] for r in resolved], df[a_col].tolist(),
        _to_years(_numeric(df[a_col]), age_units, csv), male,
    )
    return _Table(rows, f"csv:{csv}", csv, age_units)


def _table(root: str | os.PathLike, format: str, **kw) -> _Table:
    fmt = str(format).lower()
    if fmt == "rsna":
        return _rsna_table(root, **kw)
    if fmt == "dha":
        if "metadata_csv" not in kw and Path(root).is_file() and Path(root).suffix.lower() == ".csv":
            kw["metadata_csv"], root = root, Path(root).parent
        return _dha_table(root, **kw)
    if fmt == "csv":
        return _csv_table(root, **kw)
    raise InputError(root, f"unknown dataset format {format!r} (choose rsna, dha or csv)")
