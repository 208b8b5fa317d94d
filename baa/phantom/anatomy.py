"""The phantom's anatomy and maturity tables: bone lengths and radii at the reference hand length,
the carpal bones, the ossification centres and their timing (``../shared/reference/skeletal-maturation.md``),
and the per-subject maturity state drawn from them.

Layer: phantom (beside data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch


@dataclass
class PhantomConfig:
    size: int = 256
    age_range: tuple[float, float] = (0.0, 19.0)
    age_dist: str = "uniform"  # "uniform" | "dha" (few infants, flat 2-18 y) | "rsna" (peak 10-14 y)
    p_male: float = 0.5
    reader_sd: float = 0.5  # years, per reading (mean of two: ~0.35 y)
    timing_sd: float = 0.65  # years, scatter of each ossification / fusion event
    timing_corr: float = 0.5  # share of the timing variance common to a bone group
    collimation: bool = True
    marker: bool = True
    site_variation: bool = True  # brightness / contrast / gamma / energy / heel / blur per image
    pose_variation: bool = True  # rotation, position, scale, finger spread
    max_rotation_deg: float = 15.0
    texture: float = 0.6  # amplitude of the trabecular texture
    proportion_spread: float = 1.0  # scales each hand's scatter of width, bone width, soft tissue (issue 18's anatomy randomisation)
    pose_spread: float = 1.0  # scales the range of finger spread and of each finger's angle at its joints (pose_variation)
    carpal_scale: float = 1.0  # the carpals' size: above 1 they pack the wrist as on real films (scene._carpals)
    infant_anatomy: float = 0.0  # 0: the calibrated phantom; 1: infants' hands as real films show them (scene._infant)


H_REF = 19.3  # hand length the tables are drawn at (adult male ~18.9 cm + fingertip pad)

FINGERS = ("thumb", "index", "middle", "ring", "little")

# bone slots per ray (thumb first), cm at the reference hand length
MC_BASE = ((2.45, 3.05), (1.3, 3.6), (0.1, 3.65), (-0.95, 3.5), (-1.9, 3.25))
MC_ANGLE = (0.55, 0.07, 0.0, -0.08, -0.17)  # radians from +y, positive towards the thumb
MC_LEN = (4.4, 6.6, 6.3, 5.6, 5.2)
MC_R = (0.46, 0.42, 0.43, 0.38, 0.38)
PP_LEN = (3.1, 3.9, 4.3, 4.05, 3.3)
PP_R = (0.42, 0.42, 0.44, 0.41, 0.36)
MP_LEN = (0.0, 2.3, 2.75, 2.6, 1.85)
MP_R = (0.0, 0.35, 0.37, 0.35, 0.30)
DP_LEN = (2.3, 1.7, 1.85, 1.8, 1.6)
DP_R = (0.34, 0.27, 0.28, 0.27, 0.25)
SPREAD = (0.12, 0.12, 0.0, -0.10, -0.24)  # extra angle at the MCP joints per unit of finger spread
FINGER_SOFT_R = (1.05, 0.95, 0.98, 0.93, 0.84)
JOINT = 0.13  # adult joint space (cm)

# carpals: name, centre, semi-axis across, semi-axis along, angle, in order of appearance
CARPALS = (
    ("capitate", (0.05, 2.5), 0.6, 1.0, 0.0),
    ("hamate", (-1.25, 2.45), 0.65, 0.95, -0.15),
    ("triquetrum", (-1.35, 1.2), 0.5, 0.62, -1.0),
    ("lunate", (0.1, 0.85), 0.72, 0.6, 0.0),
    ("scaphoid", (1.4, 1.05), 0.55, 1.05, 0.75),
    ("trapezium", (2.2, 2.55), 0.7, 0.7, 0.5),
    ("trapezoid", (1.2, 2.75), 0.5, 0.6, 0.2),
    ("pisiform", (-1.55, 1.0), 0.42, 0.48, 0.3),
)

CARPAL_NAMES = tuple(c[0] for c in CARPALS)

EPIPHYSES = (
    ("radius", "ulna")
    + tuple(f"mc{i}" for i in range(1, 6))
    + tuple(f"pp{i}" for i in range(1, 6))
    + tuple(f"mp{i}" for i in range(2, 6))
    + tuple(f"dp{i}" for i in range(1, 6))
)

CENTRES = CARPAL_NAMES + EPIPHYSES + ("sesamoid",)  # every ossification event, 30 in all

N_CARPAL, N_EPI = len(CARPAL_NAMES), len(EPIPHYSES)


def _event_tables() -> dict[str, torch.Tensor]:
    """(30, 2) tables [girls, boys] of appearance, widening, capping, fusion and full-size ages."""
    inf = 1e3
    app, fuse, group = [], [], []
    carp_app = ((0.17, 0.25), (0.25, 0.33), (1.5, 2.0), (2.5, 4.0), (4.0, 5.5), (4.0, 6.0), (4.0, 6.0), (9.5, 11.0))
    for t in carp_app:
        app.append(t), fuse.append((inf, inf)), group.append(0)
    app += [(0.8, 1.1), (5.0, 6.5)]  # distal radius ~1 y (before the triquetrum), distal ulna 5-6 y
    fuse += [(16.5, 18.0), (15.8, 17.2)]  # radius last
    group += [2, 2]
    # toddler window, girls 10 mo - 2 y, boys 14 mo - 3 y: PP -> MC -> MP -> DP, middle finger first
    row_g = {"mc": 1.05, "pp": 0.85, "mp": 1.25, "dp": 1.45}
    finger_off = {1: 0.15, 2: 0.07, 3: 0.0, 4: 0.1, 5: 0.2}
    row_fuse = {"dp": (13.5, 15.5), "mc": (14.0, 16.0), "pp": (14.0, 16.0), "mp": (14.4, 16.4)}
    for name in EPIPHYSES[2:]:
        row, f = name[:2], int(name[2])
        tg = row_g[row] + finger_off[f]
        if name == "mp5":
            tg = 2.0  # the little finger's middle phalanx is the very last
        app.append((tg, 1.2 + (tg - 0.85) * 1.55)), fuse.append(row_fuse[row]), group.append(1)
    app.append((11.0, 13.0)), fuse.append((inf, inf)), group.append(1)  # adductor sesamoid: puberty
    app_t, fuse_t = torch.tensor(app), torch.tensor(fuse)
    is_epi = torch.zeros(len(CENTRES), dtype=torch.bool)
    is_epi[N_CARPAL : N_CARPAL + N_EPI] = True
    widen = torch.tensor([7.0, 7.5])[None].expand(len(CENTRES), 2).clone()
    widen[N_CARPAL : N_CARPAL + 2] = 8.0  # forearm epiphyses take longer to span their metaphysis
    wide_t = torch.where(is_epi[:, None], fuse_t - widen, torch.full_like(fuse_t, inf))
    wide_t = torch.maximum(wide_t, app_t + 1.0)
    cap_t = torch.where(is_epi[:, None], fuse_t - 3.5, torch.full_like(fuse_t, inf))
    full_t = torch.where(is_epi[:, None], wide_t, torch.tensor([[13.0, 15.0]]).expand_as(app_t))
    return dict(app=app_t, wide=wide_t, cap=cap_t, fuse=fuse_t, full=full_t, group=torch.tensor(group), is_epi=is_epi)


EVENTS = _event_tables()

FUSION_YEARS = 1.5  # fusion progress 0 -> 1

N_GROUPS = 4  # carpal, hand, forearm, growth (for the correlated part of the timing scatter)

# hand length (cm) by age, the reference's judged curve; girls plateau at 14 y
HAND_LENGTH_AGES = torch.tensor([0.0, 1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 30])
HAND_LENGTH_BOYS = torch.tensor([6.0, 8.5, 9.5, 11.0, 12.5, 13.5, 14.5, 15.8, 17.3, 18.5, 18.9, 18.9])
HAND_LENGTH_GIRLS = torch.tensor([6.0, 8.5, 9.5, 11.0, 12.5, 13.5, 14.6, 16.0, 17.0, 17.0, 17.0, 17.0])

# Each image's draws for anatomy, pose and site (``render._draw``), by name: columns of its N_Z
# normals and N_U uniforms. A column's meaning is fixed: a new draw goes at the end, or every phantom changes.
N_Z, N_U = 48, 40
Z_COLUMNS = {
    "event": slice(0, 30),  # each centre's own timing scatter (timing_offsets)
    "group": slice(30, 34),  # the scatter a bone group shares: carpal, hand, forearm, growth (N_GROUPS)
    "hand_length": 34, "hand_width": 35, "bone_width": 36, "soft_tissue": 37,
    "finger_length": slice(38, 43),  # per ray, thumb first
    "tilt": slice(43, 48),  # per ray, the metacarpal's angle; carpal i takes column i % 5
}
U_COLUMNS = {
    "spread": 0, "thumb": 1,  # finger spread, thumb abduction (pose_variation)
    "mcp_angle": slice(2, 7),  # per ray, at the MCP joint (the thumb's, column 2, is unused)
    "joint_angle": slice(7, 12),  # per ray, at each finger joint
    "rotation": 12, "field": 13, "centre_x": 14, "centre_y": 15,  # where the hand lands (pose_variation)
    "energy": 16, "heel": 17, "heel_direction": 18, "scatter": 19, "blur": 20,  # the exposure (site_variation)
    "film_speed": 21, "black": 22, "white": 23, "gamma": 24,  # the film (site_variation)
    "collimation_width": slice(25, 29), "collimation_on": slice(29, 33),  # left, right, top, bottom
    "collimation_density": 33,
    "marker_on": 34, "marker_side_x": 35, "marker_x": 36, "marker_side_y": 37, "marker_y": 38, "marker_size": 39,
}


def named_draws(x: torch.Tensor, columns: dict) -> SimpleNamespace:
    """The columns of draws ``x`` (B, n) by name: ``named_draws(z, Z_COLUMNS).hand_length`` is ``z[:, 34]``."""
    return SimpleNamespace(**{name: x[:, c] for name, c in columns.items()})


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    xp, fp = xp.to(x), fp.to(x)
    i = torch.searchsorted(xp, x.clamp(xp[0], xp[-1]).contiguous()).clamp(1, len(xp) - 1)
    w = ((x - xp[i - 1]) / (xp[i] - xp[i - 1])).clamp(0, 1)
    return fp[i - 1] + w * (fp[i] - fp[i - 1])


def _mix(seed: int, index: int) -> int:
    """splitmix64 of (seed, index): a stable 63-bit generator seed (Python's hash is not stable)."""
    m = (1 << 64) - 1
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(index) * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & m
    for _ in range(2):
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & m
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & m
        x ^= x >> 31
    return x & ((1 << 63) - 1)


def _age_weights(cfg: PhantomConfig) -> np.ndarray | None:
    if cfg.age_dist == "uniform":
        return None
    years = np.arange(20)
    if cfg.age_dist == "dha":  # DHA: 19 yearly groups, infants scarce
        return np.minimum(1.0, 0.25 + 0.25 * years)
    if cfg.age_dist == "rsna":  # RSNA training set: broad peak around 10-14 y
        return np.exp(-0.5 * ((years + 0.5 - 11.5) / 4.0) ** 2) + 0.03
    raise ValueError(f"unknown age_dist {cfg.age_dist!r} (uniform, dha, rsna)")


def _age_from_u(u: torch.Tensor, cfg: PhantomConfig) -> torch.Tensor:
    """Inverse CDF of the configured bone-age distribution (piecewise flat per yearly group)."""
    lo, hi = cfg.age_range
    w = _age_weights(cfg)
    if w is None:
        return lo + u * (hi - lo)
    edges = np.arange(21.0)
    a, b = np.clip(edges[:-1], lo, hi), np.clip(edges[1:], lo, hi)
    mass = w * (b - a)
    cdf = np.concatenate([[0.0], np.cumsum(mass) / mass.sum()])
    x = np.concatenate([[lo], b])
    return torch.from_numpy(np.interp(u.double().numpy(), cdf, x)).float()


def _subject_from_draws(su: torch.Tensor, sz: torch.Tensor, cfg: PhantomConfig) -> dict:
    """su: (B,2) uniforms [age, sex]; sz: (B,3) normals [CA deviation, reading 1, reading 2]."""
    ba = _age_from_u(su[:, 0], cfg)
    male = su[:, 1] < cfg.p_male
    ca = (ba + sz[:, 0] * (0.1 + 0.15 * ba).clamp(max=1.0)).clamp(min=0.02)
    r_sd = cfg.reader_sd * (0.3 + ba / 5).clamp(max=1.0)
    readings = (ba[:, None] + r_sd[:, None] * sz[:, 1:3]).clamp(min=0.0)
    return dict(bone_age=ba, chrono_age=ca, male=male, readings=readings, label=readings.mean(1))


def generators(indices: torch.Tensor, seed: int) -> list[torch.Generator]:
    """One generator per image, seeded by (seed, index): an image's draws do not depend on its batch."""
    return [torch.Generator().manual_seed(_mix(seed, int(i))) for i in indices]


def sample_subjects(n: int, seed: int = 0, config: PhantomConfig | None = None, start: int = 0) -> dict:
    """Subjects ``start .. start+n-1``: index, bone_age, chrono_age (years), male, readings (n,2), label."""
    cfg = config or PhantomConfig()
    idx = torch.arange(start, start + n, dtype=torch.int64)
    return subjects_of(idx, seed, cfg)


def subjects_of(idx: torch.Tensor, seed: int, cfg: PhantomConfig, gens=None) -> dict:
    """The subjects of images ``idx``: each generator's first draws (``gens``: the images' generators,
    which the renderer goes on drawing from)."""
    gens = gens if gens is not None else generators(idx, seed)
    su = torch.stack([torch.rand(2, generator=g) for g in gens]) if len(gens) else torch.zeros(0, 2)
    sz = torch.stack([torch.randn(3, generator=g) for g in gens]) if len(gens) else torch.zeros(0, 3)
    return dict(index=idx.clone(), **_subject_from_draws(su, sz, cfg))


def timing_offsets(bone_age: torch.Tensor, z_event: torch.Tensor, z_group: torch.Tensor, cfg: PhantomConfig) -> torch.Tensor:
    """(B,30) years by which each centre's clock lags the bone age; z_event (B,30), z_group (B,4)."""
    rho = cfg.timing_corr
    zg = z_group[:, EVENTS["group"].to(z_group.device)]  # (B,30)
    s = (0.25 + bone_age / 6).clamp(max=1.0)[:, None]
    return cfg.timing_sd * s * (math.sqrt(rho) * zg + math.sqrt(1 - rho) * z_event)


def maturity_state(bone_age, male, offsets: torch.Tensor | None = None) -> dict:
    """Stage of every ossification centre for bone age(s) ``bone_age`` (years) and sex ``male``.

    ``offsets`` (B,30): per-centre lag in years (``timing_offsets``); ``None`` = population mean.
    Returns (B,30) tensors: 'eff_age'; 'present' (bool, centre has appeared); 'size' (carpals and
    sesamoid: fraction of adult size; epiphyses: width / metaphysis width, >1 when capping);
    'fusion' (0 open .. 1 fused); 'physis_gap' (fraction of the open physis gap, epiphyses only,
    0 elsewhere); plus 'n_carpals' (B,) and 'names'.
    """
    ba = torch.as_tensor(bone_age, dtype=torch.float32).reshape(-1)
    m = torch.as_tensor(male, device=ba.device).reshape(-1).to(torch.bool).expand_as(ba)
    col = m.long()[:, None].expand(-1, len(CENTRES))  # (B,30) 0 girls, 1 boys
    tab = {k: EVENTS[k].to(ba.device).T[None].expand(len(ba), 2, -1).gather(1, col[:, None]).squeeze(1) for k in ("app", "wide", "cap", "fuse", "full")}
    a = ba[:, None] - (offsets if offsets is not None else 0.0)
    present = a >= tab["app"]
    grow = ((a - tab["app"]) / (tab["full"] - tab["app"])).clamp(0, 1)
    is_epi = EVENTS["is_epi"].to(ba.device)[None]
    epi_w = 0.22 + 0.78 * grow.pow(0.6) + 0.1 * ((a - tab["cap"]) / 1.5).clamp(0, 1)
    # carpal nuclei: fast first year (to ~55% of adult size), then slowly to full size
    carp_q = ((a - tab["app"]) / 1.0).clamp(0, 1).sqrt() * (0.55 + 0.45 * grow)
    size = torch.where(present, torch.where(is_epi, epi_w, carp_q.clamp(min=0.05)), torch.zeros_like(a))
    fusion = torch.where(is_epi, ((a - tab["fuse"]) / FUSION_YEARS).clamp(0, 1), torch.zeros_like(a))
    gap = torch.where(is_epi, 1 - fusion, torch.zeros_like(a))
    return dict(names=CENTRES, eff_age=a, present=present, size=size, fusion=fusion, physis_gap=gap,
                n_carpals=present[:, :N_CARPAL].sum(1))
