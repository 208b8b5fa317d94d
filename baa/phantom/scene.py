"""The hand's geometry: every bone, nucleus and soft-tissue part as a tapered primitive in the hand's
frame (cm), built from a subject's maturity and its named random draws, and where the hand lands in
the image. The renderer (``render.py``) turns the primitives into pixels.

Layer: phantom.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from baa.phantom.anatomy import (CARPALS, CENTRES, DP_LEN, DP_R, FINGER_SOFT_R, H_REF, HAND_LENGTH_AGES, HAND_LENGTH_BOYS,
                                 HAND_LENGTH_GIRLS, JOINT, MC_ANGLE, MC_BASE, MC_LEN, MC_R, MP_LEN, MP_R, PP_LEN, PP_R,
                                 SPREAD, PhantomConfig, interp, maturity_state, timing_offsets)

PRIM_FIELDS = ("ax", "ay", "th", "L", "r0", "fp", "wp", "fd", "wd", "c0", "c1", "k", "cort", "rho", "drho")

# shaft profiles (flare and width at the proximal end, at the distal end, cap lengths) of _prim
PROFILE_MC = (0.35, 0.22, 0.45, 0.2, 0.35, 0.9)
PROFILE_MC1 = (0.45, 0.25, 0.35, 0.2, 0.3, 0.8)
PROFILE_PHALANX = (0.5, 0.3, 0.25, 0.2, 0.3, 0.6)
PROFILE_DP = (0.45, 0.35, 0.25, 0.12, 0.25, 0.8)
ROW_LENGTH = {"pp": PP_LEN, "mp": MP_LEN, "dp": DP_LEN}
ROW_RADIUS = {"pp": PP_R, "mp": MP_R, "dp": DP_R}


def _prim(ref, ax, ay, th, L, r0, fp=0.0, wp=0.3, fd=0.0, wd=0.3, c0=None, c1=None, k=1.0, cort=0.0, rho=0.4, drho=0.0):
    """A shaft from point a=(ax,ay) along angle th (radians from +y) of length L, radius
    r(s) = r0 (1 + fp relu(1 - s/wp)^2 + fd relu(1 - (1-s)/wd)^2), ellipsoidal caps of length
    c0 (proximal) and c1 (distal), depth/width ratio k, cortical shell ``cort`` cm, trabecular density
    ``rho`` (+``drho`` in the flared ends).  L = 0 and fp = fd = 0 gives an ellipsoid."""
    t = lambda v: v.to(ref.dtype) if torch.is_tensor(v) and v.dim() > 0 else torch.full_like(ref, float(v))
    rp, rd = r0 * (1 + fp), r0 * (1 + fd)
    c0 = rp if c0 is None else c0
    c1 = rd if c1 is None else c1
    vals = (ax, ay, th, L, r0, fp, wp, fd, wd, c0, c1, k, cort, rho, drho)
    return {f: t(v) for f, v in zip(PRIM_FIELDS, vals)}


def stack(prims: list[dict]) -> dict:
    """Primitives as one dict of (B, K) tensors."""
    return {f: torch.stack([p[f] for p in prims], 1) for f in PRIM_FIELDS}


def _hand(subj: dict, z, u, cfg: PhantomConfig) -> SimpleNamespace:
    """Each hand's maturity, growth clock, size and proportions, and the pose of its fingers."""
    ref = subj["bone_age"]  # (B,) float: device and dtype of everything below
    ba, ca, male = subj["bone_age"], subj["chrono_age"], subj["male"]
    mat = maturity_state(ba, male, timing_offsets(ba, z.event, z.group, cfg))
    # growth clock: mean of CA and BA, lagged by the growth group's share of the scatter
    ag = (0.5 * (ca + ba) - cfg.timing_sd * math.sqrt(cfg.timing_corr) * z.group[:, 3] * (0.25 + ba / 6).clamp(max=1)).clamp(min=0)
    hl = torch.where(male, interp(ag, HAND_LENGTH_AGES, HAND_LENGTH_BOYS),
                     interp(ag, HAND_LENGTH_AGES, HAND_LENGTH_GIRLS)) * torch.exp(0.05 * z.hand_length)
    young = torch.exp(-ag / 3)
    k = cfg.proportion_spread  # 1: the calibrated scatter; more: proportions that say nothing of age
    h = SimpleNamespace(
        ref=ref, mat=mat, ag=ag, hl=hl, young=young, infant=cfg.infant_anatomy, cartilage=0.6, finger_flare=0.12, joint_jitter=0.03,
        sg=hl / H_REF,  # global scale (B,)
        wx=(1 + 0.15 * young) * (1 + 0.04 * k * z.hand_width).clamp(min=0.5),  # infants: broad hands
        wf=(1 + 0.30 * young) * (1 + 0.06 * k * z.bone_width).clamp(min=0.5),  # infants: short, wide bones
        f_oss=1 - 0.22 * torch.exp(-ag / 2.5),  # ossified share of each bone's length
        cort_f=0.18 + 0.27 * (1 - torch.exp(-ag / 6)),  # cortex / shaft radius
        soft_f=(1 + 0.3 * young) * torch.exp(0.08 * k * z.soft_tissue),
        lf=1 - 0.08 * torch.exp(-ag / 4),  # fingers grow faster than the palm (37% from 3 to 10 y)
        spread=(0.3 + 1.1 * u.spread) if cfg.pose_variation else torch.full_like(ref, 0.6),
        thumb_abd=(-0.12 + 0.3 * u.thumb) if cfg.pose_variation else torch.zeros_like(ref),
    )
    if cfg.pose_variation and cfg.pose_spread != 1.0:
        # fingers fanned up to 2.5x wider apart at 2.5 (real films spread them far more than the
        # calibrated phantom's 0.3-1.4); the joints bend more at random
        h.spread = 0.3 + 1.1 * cfg.pose_spread * u.spread
        h.joint_jitter = 0.03 * cfg.pose_spread
    if h.infant:
        _infant(h, h.infant)
    return h


def _infant(h: SimpleNamespace, a: float) -> None:
    """Infants' hands as the real films of ``../shared/real-xrays`` and the youngest RSNA films show
    them, at strength ``a``: plump soft tissue, short ossified shafts in long cartilage, short spread
    fingers, broad hands (and, in ``_soft_tissue``, a fuller thenar and thumb-index web at every age)."""
    young = torch.exp(-h.ag / 2)  # these features fade faster than the proportions above
    h.soft_f = h.soft_f * (1 + 0.5 * a * young)
    h.finger_flare = 0.12 + 0.4 * a * young  # conical fingers
    h.f_oss = h.f_oss - 0.15 * a * young
    h.cartilage = 0.6 + 0.8 * a
    h.lf = h.lf * (1 - 0.12 * a * young)
    h.spread = h.spread + 0.8 * a * young
    h.wx = h.wx * (1 + 0.1 * a * young)


def _point(h: SimpleNamespace, x: float, y: float):
    """A point of the anatomy tables (cm at the reference hand) on this hand."""
    return x * h.wx * h.sg, y * h.sg


class _Skeleton:
    """The primitives placed so far: bones by name, nuclei, carpals, growth regions (with masks),
    each centre's physis gap, and each bone's centre (the landmarks)."""

    def __init__(self, h: SimpleNamespace, masks: bool):
        self.h, self.masks = h, masks
        self.bones, self.nuclei, self.carpals, self.growth, self.marks = {}, [], [], [], {}
        self.index = {n: i for i, n in enumerate(CENTRES)}
        self.gap_cm = torch.zeros(len(h.ref), len(CENTRES), device=h.ref.device)

    def tubular(self, name, ax, ay, th, L, r_adult, epi_end, prof, fe, hr, far_margin=True, nucleus_tilt=0.0):
        """One tubular bone in its slot from (ax, ay) along ``th``, ``L`` cm long: the diaphysis, the
        nucleus of the epiphysis at ``epi_end`` ("p" proximal, "d" distal) and, with masks, the growth
        region around it. ``prof``: the shaft's profile; ``fe``: the epiphyseal share of ``L``; ``hr``:
        the nucleus's half-length over the end's radius. Returns the slot's far end."""
        h = self.h
        ref, sg, young = h.ref, h.sg, h.young
        fp, wp, fd, wd, cp, cd = prof
        r0 = r_adult * sg * h.wf
        e_len = L * fe * (1 + h.cartilage * young)  # epiphyseal (cartilage) region at the epiphysis end
        r_end = r0 * (1 + (fp if epi_end == "p" else fd))
        g_open = 0.16 * r_end + 0.04 * sg  # open physis: radiolucent gap between nucleus and metaphysis
        j = self.index[name]
        pres, wr, fus = h.mat["present"][:, j], h.mat["size"][:, j], h.mat["fusion"][:, j]
        gap = g_open * (1 - fus)
        margin = L * (1 - h.f_oss) * 0.5 if far_margin else torch.zeros_like(ref)
        a_n = wr * r_end
        c_n = torch.minimum(a_n, hr * r_end).clamp(min=1e-3)
        c_n = torch.minimum(c_n, 0.5 * e_len)
        # shaft ends: bridged into the nucleus as fusion completes (overlap = scar line)
        near = e_len + gap - fus * 0.35 * c_n
        u0, u1 = (near, L - margin) if epi_end == "p" else (margin, L - near)
        d = (torch.sin(th), torch.cos(th))
        sx, sy = ax + d[0] * u0, ay + d[1] * u0
        self.bones[name] = _prim(ref, sx, sy, th, (u1 - u0).clamp(min=0.05), r0, fp, wp, fd, wd,
                                 cp * r0 * (1 + fp), cd * r0 * (1 + fd), 0.95, h.cort_f * r0, 0.2, 0.25)
        uc = e_len - c_n if epi_end == "p" else L - e_len + c_n  # nucleus centre along the slot
        ncx, ncy = ax + d[0] * uc, ay + d[1] * uc
        a_eff = torch.where(pres, a_n, torch.zeros_like(a_n))
        self.nuclei.append((name, _prim(ref, ncx - d[0] * 1e-3, ncy - d[1] * 1e-3, th + nucleus_tilt, 2e-3, a_eff,
                                        c0=c_n, c1=c_n, k=0.85, cort=0.12 * c_n, rho=0.5)))
        self.gap_cm[:, j] = torch.where(pres, gap, g_open)
        if self.masks:  # growth region: nucleus + physis + metaphyseal edge
            ug = e_len + 0.5 * g_open if epi_end == "p" else L - e_len - 0.5 * g_open
            half = 0.5 * e_len + 0.5 * g_open + 0.15 * r_end
            ugc = ug - 0.5 * e_len + 0.0 if epi_end == "p" else ug + 0.5 * e_len
            self.growth.append(_prim(ref, ax + d[0] * ugc, ay + d[1] * ugc, th, 1e-3, 1.2 * r_end, c0=half, c1=half))
        self.marks[name] = (ax + d[0] * 0.5 * L, ay + d[1] * 0.5 * L)
        return ax + d[0] * L, ay + d[1] * L


def _forearm(sk: _Skeleton) -> None:
    """Radius and ulna with their distal epiphyses; the slots reach well below the image."""
    h = sk.h
    ry0 = -0.62 * H_REF
    ax, ay = _point(h, 1.1, ry0)
    bx, by = _point(h, 0.75, 0.0)
    th_r = torch.atan2(bx - ax, by - ay)
    sk.tubular("radius", ax, ay, th_r, torch.hypot(bx - ax, by - ay), 0.62, "d", (0.0, 0.3, 1.1, 0.2, 0.3, 0.25),
               1.0 / 12.0, 0.36, far_margin=False, nucleus_tilt=-0.3)
    ax, ay = _point(h, -1.9, ry0)
    bx, by = _point(h, -1.55, -0.35)
    th_u = torch.atan2(bx - ax, by - ay)
    sk.tubular("ulna", ax, ay, th_u, torch.hypot(bx - ax, by - ay), 0.47, "d", (0.0, 0.3, 0.55, 0.18, 0.3, 0.5),
               0.7 / 12.0, 0.5, far_margin=False)


def _ray(sk: _Skeleton, f: int, z, u) -> tuple:
    """Ray ``f`` (0: thumb): metacarpal -> proximal -> (middle) -> distal phalanx. Returns the
    finger's base, its tip and the last phalanx's angle, for the soft tissue."""
    h = sk.h
    sg = h.sg
    lfac = 1 + 0.03 * z.finger_length[:, f]
    bx, by = _point(h, *MC_BASE[f])
    th = MC_ANGLE[f] + (h.thumb_abd if f == 0 else 0.0) + 0.02 * z.tilt[:, f]
    jt = JOINT * sg * (1 + 1.5 * h.young)
    mc = f"mc{f+1}"
    ex, ey = sk.tubular(mc, bx, by, th, MC_LEN[f] * sg * lfac, MC_R[f],
                        "p" if f == 0 else "d", PROFILE_MC1 if f == 0 else PROFILE_MC, 0.1 if f == 0 else 0.15,
                        0.45 if f == 0 else 0.8)
    th = th + SPREAD[f] * h.spread + (0.1 * h.thumb_abd if f == 0 else h.joint_jitter * (u.mcp_angle[:, f] - 0.5))
    soft_start = (ex, ey)
    for row in ("pp", "dp") if f == 0 else ("pp", "mp", "dp"):
        Lr = ROW_LENGTH[row][f] * sg * lfac * h.lf
        sx, sy = ex + torch.sin(th) * jt, ey + torch.cos(th) * jt
        ex, ey = sk.tubular(f"{row}{f+1}", sx, sy, th, Lr, ROW_RADIUS[row][f], "p",
                            PROFILE_DP if row == "dp" else PROFILE_PHALANX, 0.11, 0.42)
        th = th + h.joint_jitter * (u.joint_angle[:, f] - 0.5)
    return soft_start, (ex, ey), th


def _carpals(sk: _Skeleton, z, scale: float = 1.0) -> None:
    """The carpals (present ones grow from round dots to their adult shape), ``scale`` times their
    calibrated size (``PhantomConfig.carpal_scale``)."""
    h = sk.h
    for i, (name, (cx, cy), a, c, ang) in enumerate(CARPALS):
        q = h.mat["size"][:, i]
        mround = math.sqrt(a * c)
        aa = 1.1 * q * (a * q + mround * (1 - q)) * h.sg
        cc = 1.1 * q * (c * q + mround * (1 - q)) * h.sg
        if scale != 1.0:
            aa, cc = aa * scale, cc * scale
        px, py = _point(h, cx, cy)
        thc = ang + 0.1 * z.tilt[:, i % 5]
        sk.carpals.append((name, _prim(h.ref, px - torch.sin(thc) * 1e-3, py - torch.cos(thc) * 1e-3, thc, 2e-3, aa,
                                       c0=cc.clamp(min=1e-3), c1=cc.clamp(min=1e-3), k=0.9,
                                       cort=0.1 * torch.minimum(aa, cc), rho=0.45)))
        sk.marks[name] = (px, py)


def _sesamoid(sk: _Skeleton) -> None:
    """The adductor sesamoid beside the thumb's metacarpal head (it appears at puberty)."""
    h, mc1 = sk.h, sk.bones["mc1"]
    sg = h.sg
    hx = mc1["ax"] + torch.sin(mc1["th"]) * mc1["L"]
    hy = mc1["ay"] + torch.cos(mc1["th"]) * mc1["L"]
    nx, ny = -torch.cos(mc1["th"]), torch.sin(mc1["th"])  # towards the ulnar side of the thumb
    q = h.mat["size"][:, -1]
    sx = hx + nx * 0.42 * sg - torch.sin(mc1["th"]) * 0.1 * sg
    sy = hy + ny * 0.42 * sg - torch.cos(mc1["th"]) * 0.1 * sg
    sk.carpals.append(("sesamoid", _prim(h.ref, sx, sy, mc1["th"], 2e-3, 0.24 * q * sg, c0=(0.3 * q * sg).clamp(min=1e-3),
                                         c1=(0.3 * q * sg).clamp(min=1e-3), k=0.9, cort=0.03 * q * sg, rho=0.5)))
    sk.marks["sesamoid"] = (sx, sy)


def _soft_tissue(sk: _Skeleton, tips: list) -> list[dict]:
    """Fingers, palm, thenar eminence, thumb-index web and forearm (cm of tissue along the ray), in
    that order: the renderer splats the five fingers apart from the rest."""
    h = sk.h
    ref, sg, soft_f = h.ref, h.sg, h.soft_f
    soft = []
    for f, ((sx0, sy0), (tx, ty), th) in enumerate(tips):
        rf = FINGER_SOFT_R[f] * sg * soft_f
        pad = 0.25 * sg
        dx, dy = tx - sx0, ty - sy0
        Lf = torch.hypot(dx, dy) + pad
        thf = torch.atan2(dx, dy)
        back = 0.6 * sg if f else 1.2 * sg  # start inside the palm
        soft.append(_prim(ref, sx0 - torch.sin(thf) * back, sy0 - torch.cos(thf) * back, thf, Lf + back - rf, rf,
                          fp=h.finger_flare, wp=0.4, c0=rf, c1=rf, k=0.85))
    # palm: widens from the wrist (~5.6 cm) to the metacarpal heads (~8 cm), ~3 cm thick
    px, py = _point(h, -0.3, -0.5)
    qx, qy = _point(h, -0.4, 9.0)
    palm_w = 2.65 * sg * h.wx * soft_f.sqrt()
    soft.append(_prim(ref, px, py, torch.atan2(qx - px, qy - py), torch.hypot(qx - px, qy - py), palm_w,
                      fd=0.15, wd=0.8, c0=1.0 * palm_w, c1=0.5 * palm_w, k=0.58))
    th1 = sk.bones["mc1"]["th"]
    ax_, ay_ = _point(h, 1.3, 1.0)
    thenar = 1.5 + 0.4 * h.infant  # infant_anatomy, at every age: the thumb joined to the palm by a fuller thenar and web
    soft.append(_prim(ref, ax_, ay_, th1, MC_LEN[0] * sg * 1.0, thenar * sg * soft_f, k=0.65))  # thenar eminence
    m1x = sk.bones["mc1"]["ax"] + torch.sin(th1) * MC_LEN[0] * sg * 0.7
    m1y = sk.bones["mc1"]["ay"] + torch.cos(th1) * MC_LEN[0] * sg * 0.7
    m2x, m2y = _point(h, 1.9, 9.0)
    web = 0.7 + 0.5 * h.infant
    soft.append(_prim(ref, m1x, m1y, torch.atan2(m2x - m1x, m2y - m1y), torch.hypot(m2x - m1x, m2y - m1y), web * sg * soft_f,
                      k=0.5))  # thumb-index web
    ax_, ay_ = _point(h, 0.1, -0.72 * H_REF)
    bx_, by_ = _point(h, -0.2, 0.8)
    soft.append(_prim(ref, ax_, ay_, torch.atan2(bx_ - ax_, by_ - ay_), torch.hypot(bx_ - ax_, by_ - ay_),
                      2.45 * sg * h.wx * soft_f.sqrt(), fp=0.35, wp=0.9, c0=1.0 * sg, c1=3.0 * sg, k=0.72))
    return soft


def _transform(h: SimpleNamespace, u, cfg: PhantomConfig, S: int) -> dict:
    """Where the hand lands: hand point (xa, ya) at pixel (cx, cy), rotation phi, s px / cm."""
    ref = h.ref
    if cfg.pose_variation:
        phi = math.radians(cfg.max_rotation_deg) * (2 * u.rotation - 1)
        fov = 1.22 + 0.2 * u.field  # image height in hand lengths
        cxp = S * (0.5 + 0.07 * (2 * u.centre_x - 1))
        cyp = S * (0.5 + 0.05 * (2 * u.centre_y - 1))
    else:
        phi, fov = torch.zeros_like(ref), torch.full_like(ref, 1.3)
        cxp, cyp = torch.full_like(ref, S / 2), torch.full_like(ref, S / 2)
    return dict(s=S / (fov * h.hl), phi=phi, cx=cxp, cy=cyp, xa=0.1 * h.sg, ya=0.40 * h.hl)


def _groups(sk: _Skeleton) -> dict[str, tuple[list[dict], bool]]:
    """The bone primitives in fixed groups of similar patch size, each ``(primitives, tubular)``:
    a fixed order keeps the sums independent of the batch."""
    b, nuclei = sk.bones, sk.nuclei
    return {
        "forearm": ([b["radius"], b["ulna"]], True),
        "metacarpal": ([b[f"mc{i}"] for i in range(2, 6)], True),
        "thumb": ([b[n] for n in ("mc1", "pp1", "dp1")], True),
        "proximal": ([b[f"pp{i}"] for i in range(2, 6)], True),
        "distal": ([b[n] for n in ("mp2", "mp3", "mp4", "mp5", "dp2", "dp3", "dp4", "dp5")], True),
        "forearm_nuclei": ([p for n, p in nuclei if n in ("radius", "ulna")], False),
        "nuclei": ([p for n, p in nuclei if n not in ("radius", "ulna")], False),
        "carpal": ([p for _, p in sk.carpals], False),
    }


def scene(subj: dict, z, u, cfg: PhantomConfig, S: int, masks: bool) -> dict:
    """Every primitive of the hands (cm, hand frame), the image transform and the hands' maturity.

    ``subj``: the subjects' fields (float64); ``z``, ``u``: their normal and uniform draws by name
    (``anatomy.named_draws``)."""
    h = _hand(subj, z, u, cfg)
    sk = _Skeleton(h, masks)
    _forearm(sk)
    tips = [_ray(sk, f, z, u) for f in range(5)]
    _carpals(sk, z, cfg.carpal_scale)
    _sesamoid(sk)
    return dict(mat=h.mat, gap_cm=sk.gap_cm, groups=_groups(sk), soft=_soft_tissue(sk, tips), growth=sk.growth,
                T=_transform(h, u, cfg, S), marks=sk.marks, hand_length=h.hl,
                mineral=0.75 + 0.25 * (1 - torch.exp(-h.ag / 4)))
