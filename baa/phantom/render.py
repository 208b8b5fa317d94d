"""The renderer: bones as tapered primitives splatted into density maps, soft tissue, the X-ray
projection and the film's look, batched on any device. Same seed, same bytes.

Layer: phantom.
"""

from __future__ import annotations
import math
import torch
import torch.nn.functional as F
from baa.phantom.anatomy import CARPALS, CENTRES, DP_LEN, DP_R, EVENTS, FINGER_SOFT_R, H_REF, JOINT, MC_ANGLE, MC_BASE, MC_LEN, MC_R, MP_LEN, MP_R, N_U, N_Z, PP_LEN, PP_R, PhantomConfig, SPREAD, _HL_AGE, _HL_BOY, _HL_GIRL, _generators, _interp, _subjects, maturity_state, timing_offsets



_BOX_MARGIN = 1.5  # pixels around each primitive's box (tests widen it: the image must not change)


PRIM_FIELDS = ("ax", "ay", "th", "L", "r0", "fp", "wp", "fd", "wd", "c0", "c1", "k", "cort", "rho", "drho")



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



def _stack(prims: list[dict]) -> dict:
    return {f: torch.stack([p[f] for p in prims], 1) for f in PRIM_FIELDS}  # (B,K)



def _prepare(g: dict, T: dict, tubular: bool, scale: float = 1.0) -> dict:
    """Per-primitive pixel-space coefficients (B,K) and half-box sizes (hx, hy) from which _splat sizes each chunk's patch.

    g: primitive fields (B,K) in cm; T: per-image transform; ``scale`` renders on a grid ``scale``
    times the image size (soft tissue is smooth and is done at half resolution)."""
    s = T["s"][:, None] * scale  # px per cm (B,1)
    L, r0 = g["L"] * s, g["r0"] * s
    rmax = r0 * (1 + torch.maximum(g["fp"], g["fd"]).clamp(min=0))  # the widest radius along the shaft
    c0, c1 = g["c0"] * s, g["c1"] * s
    psi = g["th"] - T["phi"][:, None]
    sn, cs = torch.sin(psi), torch.cos(psi)
    X, Y = g["ax"] - T["xa"][:, None], g["ay"] - T["ya"][:, None]
    cph, sph = torch.cos(T["phi"])[:, None], torch.sin(T["phi"])[:, None]
    px0 = T["cx"][:, None] * scale + s * (cph * X - sph * Y)  # start point in pixels
    py0 = T["cy"][:, None] * scale - s * (sph * X + cph * Y)
    # axis-aligned box around the rotated rectangle [-c0, L + c1] x [-rmax, rmax] that holds the
    # capsule (the axis points along (sn, -cs) in the image), plus a pixel and a half
    e0, e1 = -c0, L + c1
    mid = 0.5 * (e0 + e1)
    pcx, pcy = px0 + sn * mid, py0 - cs * mid
    hx = torch.maximum(0.5 * (e1 - e0) * sn.abs() + rmax * cs.abs(), rmax) + _BOX_MARGIN
    hy = torch.maximum(0.5 * (e1 - e0) * cs.abs() + rmax * sn.abs(), rmax) + _BOX_MARGIN
    ct = g["cort"] * s
    # the patch size is fixed per chunk of images in _splat (the largest box of that chunk only)
    return dict(
        tubular=tubular, hx=torch.ceil(hx).long(), hy=torch.ceil(hy).long(), pcx=pcx, pcy=pcy,
        **{k: v.float() for k, v in dict(  # the scene is float64 (see _render_batch); pixels are float32
            sn=sn, cs=cs, px0=px0, py0=py0, L=L, invL=1 / L.clamp(min=1e-3), r0=r0,
            fp=g["fp"], fd=g["fd"], iwp=1 / g["wp"], iwd=1 / g["wd"], ic0=1 / c0.clamp(min=1e-3), ic1=1 / c1.clamp(min=1e-3),
            ic0i=1 / (c0 - ct).clamp(min=0.3), ic1i=1 / (c1 - ct).clamp(min=0.3), ct=ct,
            k2s=2 * g["k"] / s, rho=g["rho"], drho=g["drho"]).items()},
    )



def _splat(p: dict, sl: slice, S: int, inner: bool):
    """Thickness (cm) of the primitives of images ``sl`` over their patches.

    Returns flat indices (b,K,Py,Px) into a (b,(S+2)^2) buffer with a one-pixel guard ring (patch
    pixels outside the image land on the ring and are cropped), the outer chord and, with ``inner``,
    the cortical and trabecular path lengths."""
    q = {k: (v[sl] if torch.is_tensor(v) else v) for k, v in p.items()}
    # each box clipped to the guarded frame [-1, S]: the forearm's slots reach far below the image,
    # and pixels off the image would only land on the guard ring
    x0 = torch.floor(q["pcx"] - q["hx"]).long().clamp_(-1, S)
    y0 = torch.floor(q["pcy"] - q["hy"]).long().clamp_(-1, S)
    Px = int((torch.ceil(q["pcx"] + q["hx"]).long().clamp_(-1, S) - x0).max()) + 1 if x0.numel() else 1
    Py = int((torch.ceil(q["pcy"] + q["hy"]).long().clamp_(-1, S) - y0).max()) + 1 if y0.numel() else 1
    q["ox"], q["oy"] = x0, y0
    b, K = q["L"].shape
    dev = q["L"].device
    e3 = lambda t: t[..., None]
    e4 = lambda t: t[..., None, None]
    # pixel centres minus the start point: exact integers + 0.5, so the same pixel gets the same
    # value whatever patch (and hence batch) it is computed in
    gx = (q["ox"][..., None] + torch.arange(Px, device=dev)).float().add_(0.5).sub_(e3(q["px0"]))  # (b,K,Px)
    gy = (q["oy"][..., None] + torch.arange(Py, device=dev)).float().add_(0.5).sub_(e3(q["py0"]))  # (b,K,Py)
    sn, cs = e3(q["sn"]), e3(q["cs"])
    u = (sn * gx)[..., None, :] - (cs * gy)[..., :, None]  # along the axis (b,K,Py,Px), pixels
    v = (cs * gx)[..., None, :] + (sn * gy)[..., :, None]  # across
    v2 = v.square_()
    over_p = (-u).clamp_(min=0)
    over_d = (u - e4(q["L"])).clamp_(min=0)
    if q["tubular"]:
        sfrac = (u * e4(q["invL"])).clamp_(0, 1)
        tp = (1 - sfrac * e4(q["iwp"])).clamp_(min=0).square_()
        td = ((sfrac - 1) * e4(q["iwd"])).add_(1).clamp_(min=0).square_()
        R = (tp * e4(q["fp"])).add_(td * e4(q["fd"])).add_(1).mul_(e4(q["r0"]))
        ends = tp.add_(td)
    else:
        R = e4(q["r0"]).expand(b, K, Py, Px)
        ends = None
    du = over_p * e4(q["ic0"]) + over_d * e4(q["ic1"])
    t_out = (1 - du.square_()).clamp_(min=0).mul_(R.square()).sub_(v2).clamp_(min=0).sqrt_().mul_(e4(q["k2s"]))
    xi = (q["ox"][..., None] + torch.arange(Px, device=dev)).clamp_(-1, S) + 1  # (b,K,Px) in the guarded frame
    yi = (q["oy"][..., None] + torch.arange(Py, device=dev)).clamp_(-1, S) + 1
    S2 = S + 2
    flat = (torch.arange(b, device=dev)[:, None, None, None] * (S2 * S2) + (yi * S2)[..., :, None]) + xi[..., None, :]
    if not inner:
        return flat, t_out, None, None
    ct = e4(q["ct"])
    Ri = (R - (ct * (1 - 0.5 * ends) if ends is not None else ct)).clamp_(min=0)
    dui = over_p.mul_(e4(q["ic0i"])).add_(over_d.mul_(e4(q["ic1i"])))
    t_in = (1 - dui.square_()).clamp_(min=0).mul_(Ri.square_()).sub_(v2).clamp_(min=0).sqrt_().mul_(e4(q["k2s"]))
    # the medullary chord lies within the outer one: beyond a cap thinner than 0.3 px the inner
    # ellipsoid (its length clamped at 0.3 px) would reach past the outer and make the cortex negative
    t_in = torch.minimum(t_in, t_out)
    rho = e4(q["rho"]) + e4(q["drho"]) * ends if ends is not None else e4(q["rho"])
    return flat, t_out, t_out - t_in, t_in.mul_(rho)



def _draw(indices: torch.Tensor, seed: int, cfg: PhantomConfig, S: int):
    gens = _generators(indices, seed)
    subj = _subjects(indices, seed, cfg, gens)
    z = torch.stack([torch.randn(N_Z, generator=g) for g in gens])
    u = torch.stack([torch.rand(N_U, generator=g) for g in gens])
    s2, s4 = max(S // 2, 4), max(S // 6, 4)
    tex = [(torch.randn(s2, s2, generator=g), torch.randn(s4, s4, generator=g)) for g in gens]
    return subj, z, u, tex



def _scene(subj: dict, z: torch.Tensor, u: torch.Tensor, cfg: PhantomConfig, S: int, masks: bool):
    """Build every primitive (cm, hand frame), the image transform and the site parameters.

    z: (B,48) normals, u: (B,40) uniforms (fixed meaning per column, see below)."""
    B = z.shape[0]
    ref = subj["bone_age"]  # (B,) float: device and dtype of everything below
    dev = ref.device
    ba, ca, male = subj["bone_age"], subj["chrono_age"], subj["male"]
    offs = timing_offsets(ba, z[:, :30], z[:, 30:34], cfg)
    mat = maturity_state(ba, male, offs)
    # growth clock: mean of CA and BA, lagged by the growth group's share of the scatter
    ag = (0.5 * (ca + ba) - cfg.timing_sd * math.sqrt(cfg.timing_corr) * z[:, 33] * (0.25 + ba / 6).clamp(max=1)).clamp(min=0)
    hl = torch.where(male, _interp(ag, _HL_AGE, _HL_BOY), _interp(ag, _HL_AGE, _HL_GIRL)) * torch.exp(0.05 * z[:, 34])
    sg = hl / H_REF  # global scale (B,)
    young = torch.exp(-ag / 3)
    wx = (1 + 0.15 * young) * (1 + 0.04 * z[:, 35])  # infants: broad hands
    wf = (1 + 0.30 * young) * (1 + 0.06 * z[:, 36])  # infants: short, wide bones
    f_oss = 1 - 0.22 * torch.exp(-ag / 2.5)  # ossified share of each bone's length
    cort_f = 0.18 + 0.27 * (1 - torch.exp(-ag / 6))  # cortex / shaft radius
    soft_f = (1 + 0.3 * young) * torch.exp(0.08 * z[:, 37])
    lf = 1 - 0.08 * torch.exp(-ag / 4)  # fingers grow faster than the palm (37% from 3 to 10 y)
    spread = (0.3 + 1.1 * u[:, 0]) if cfg.pose_variation else torch.full_like(ref, 0.6)
    thumb_abd = (-0.12 + 0.3 * u[:, 1]) if cfg.pose_variation else torch.zeros_like(ref)

    P = lambda x, y: (x * wx * sg, y * sg)  # table point -> this hand (cm)
    bones, nuclei, carp, growth_reg, soft, marks = {}, [], [], [], [], {}
    ci = {n: i for i, n in enumerate(CENTRES)}
    gap_cm = torch.zeros(B, len(CENTRES), device=dev)

    def tubular(name, ax, ay, th, L, r_adult, epi_end, prof, fe, hr, epi_name, far_margin=True, cortf=None, nucleus_tilt=0.0):
        """One tubular bone in its slot: diaphysis + epiphysis nucleus + growth-region mask."""
        fp, wp, fd, wd, cp, cd = prof
        r0 = r_adult * sg * wf
        e_len = L * fe * (1 + 0.6 * young)  # epiphyseal (cartilage) region at the epiphysis end
        r_end = r0 * (1 + (fp if epi_end == "p" else fd))
        g_open = 0.16 * r_end + 0.04 * sg  # open physis: radiolucent gap between nucleus and metaphysis
        j = ci[epi_name]
        pres, wr, fus = mat["present"][:, j], mat["size"][:, j], mat["fusion"][:, j]
        gap = g_open * (1 - fus)
        margin = L * (1 - f_oss) * 0.5 if far_margin else torch.zeros_like(ref)
        a_n = wr * r_end
        c_n = torch.minimum(a_n, hr * r_end).clamp(min=1e-3)
        c_n = torch.minimum(c_n, 0.5 * e_len)
        # shaft ends: bridged into the nucleus as fusion completes (overlap = scar line)
        near = e_len + gap - fus * 0.35 * c_n
        u0, u1 = (near, L - margin) if epi_end == "p" else (margin, L - near)
        d = (torch.sin(th), torch.cos(th))
        sx, sy = ax + d[0] * u0, ay + d[1] * u0
        cf = cort_f if cortf is None else cortf
        bones[name] = _prim(ref, sx, sy, th, (u1 - u0).clamp(min=0.05), r0, fp, wp, fd, wd,
                            cp * r0 * (1 + fp), cd * r0 * (1 + fd), 0.95, cf * r0, 0.2, 0.25)
        uc = e_len - c_n if epi_end == "p" else L - e_len + c_n  # nucleus centre along the slot
        ncx, ncy = ax + d[0] * uc, ay + d[1] * uc
        a_eff = torch.where(pres, a_n, torch.zeros_like(a_n))
        nuclei.append((name, _prim(ref, ncx - d[0] * 1e-3, ncy - d[1] * 1e-3, th + nucleus_tilt, 2e-3, a_eff, c0=c_n, c1=c_n,
                                   k=0.85, cort=0.12 * c_n, rho=0.5)))
        gap_cm[:, j] = torch.where(pres, gap, g_open)
        if masks:  # growth region: nucleus + physis + metaphyseal edge
            ug = e_len + 0.5 * g_open if epi_end == "p" else L - e_len - 0.5 * g_open
            half = 0.5 * e_len + 0.5 * g_open + 0.15 * r_end
            ugc = ug - 0.5 * e_len + 0.0 if epi_end == "p" else ug + 0.5 * e_len
            growth_reg.append(_prim(ref, ax + d[0] * ugc, ay + d[1] * ugc, th, 1e-3, 1.2 * r_end, c0=half, c1=half))
        marks[name] = (ax + d[0] * 0.5 * L, ay + d[1] * 0.5 * L)
        return ax + d[0] * L, ay + d[1] * L

    # forearm: radius and ulna, distal epiphyses; slots reach well below the image
    ry0 = -0.62 * H_REF
    ax, ay = P(1.1, ry0)
    bx, by = P(0.75, 0.0)
    th_r = torch.atan2(bx - ax, by - ay)
    tubular("radius", ax, ay, th_r, torch.hypot(bx - ax, by - ay), 0.62, "d", (0.0, 0.3, 1.1, 0.2, 0.3, 0.25),
            1.0 / 12.0, 0.36, "radius", far_margin=False, nucleus_tilt=-0.3)
    ax, ay = P(-1.9, ry0)
    bx, by = P(-1.55, -0.35)
    th_u = torch.atan2(bx - ax, by - ay)
    tubular("ulna", ax, ay, th_u, torch.hypot(bx - ax, by - ay), 0.47, "d", (0.0, 0.3, 0.55, 0.18, 0.3, 0.5),
            0.7 / 12.0, 0.5, "ulna", far_margin=False)

    # rays: metacarpal -> proximal -> (middle) -> distal phalanx
    fz = z[:, 38:43]
    tips = []
    prof_mc = (0.35, 0.22, 0.45, 0.2, 0.35, 0.9)
    prof_mc1 = (0.45, 0.25, 0.35, 0.2, 0.3, 0.8)
    prof_ph = (0.5, 0.3, 0.25, 0.2, 0.3, 0.6)
    prof_dp = (0.45, 0.35, 0.25, 0.12, 0.25, 0.8)
    for f in range(5):
        lfac = 1 + 0.03 * fz[:, f]
        bx, by = P(*MC_BASE[f])
        th = MC_ANGLE[f] + (thumb_abd if f == 0 else 0.0) + 0.02 * z[:, 43 + f % 5]
        jt = JOINT * sg * (1 + 1.5 * young)
        mc = f"mc{f+1}"
        ex, ey = tubular(mc, bx, by, th, MC_LEN[f] * sg * lfac, MC_R[f],
                         "p" if f == 0 else "d", prof_mc1 if f == 0 else prof_mc, 0.1 if f == 0 else 0.15,
                         0.45 if f == 0 else 0.8, mc)
        th = th + SPREAD[f] * spread + (0.1 * thumb_abd if f == 0 else 0.03 * (u[:, 2 + f] - 0.5))
        soft_start = (ex, ey)
        rows = ("pp", "dp") if f == 0 else ("pp", "mp", "dp")
        for row in rows:
            Lr = {"pp": PP_LEN, "mp": MP_LEN, "dp": DP_LEN}[row][f] * sg * lfac * lf
            rr = {"pp": PP_R, "mp": MP_R, "dp": DP_R}[row][f]
            sx, sy = ex + torch.sin(th) * jt, ey + torch.cos(th) * jt
            ex, ey = tubular(f"{row}{f+1}", sx, sy, th, Lr, rr, "p", prof_dp if row == "dp" else prof_ph, 0.11,
                             0.42, f"{row}{f+1}")
            th = th + 0.03 * (u[:, 7 + f] - 0.5)
        tips.append((soft_start, (ex, ey), th))

    # carpals (present ones grow from round dots to their adult shape) and the sesamoid
    for i, (name, (cx, cy), a, c, ang) in enumerate(CARPALS):
        q = mat["size"][:, i]
        mround = math.sqrt(a * c)
        aa = 1.1 * q * (a * q + mround * (1 - q)) * sg
        cc = 1.1 * q * (c * q + mround * (1 - q)) * sg
        px, py = P(cx, cy)
        thc = ang + 0.1 * z[:, 43 + i % 5]
        carp.append((name, _prim(ref, px - torch.sin(thc) * 1e-3, py - torch.cos(thc) * 1e-3, thc, 2e-3, aa,
                                 c0=cc.clamp(min=1e-3), c1=cc.clamp(min=1e-3), k=0.9, cort=0.1 * torch.minimum(aa, cc), rho=0.45)))
        marks[name] = (px, py)
    mc1 = bones["mc1"]
    hx = mc1["ax"] + torch.sin(mc1["th"]) * mc1["L"]
    hy = mc1["ay"] + torch.cos(mc1["th"]) * mc1["L"]
    nx, ny = -torch.cos(mc1["th"]), torch.sin(mc1["th"])  # towards the ulnar side of the thumb
    q = mat["size"][:, -1]
    sx = hx + nx * 0.42 * sg - torch.sin(mc1["th"]) * 0.1 * sg
    sy = hy + ny * 0.42 * sg - torch.cos(mc1["th"]) * 0.1 * sg
    carp.append(("sesamoid", _prim(ref, sx, sy, mc1["th"], 2e-3, 0.24 * q * sg, c0=(0.3 * q * sg).clamp(min=1e-3),
                                   c1=(0.3 * q * sg).clamp(min=1e-3), k=0.9, cort=0.03 * q * sg, rho=0.5)))
    marks["sesamoid"] = (sx, sy)

    # soft tissue: fingers, palm, thenar eminence, forearm (cm of tissue along the ray)
    for f, ((sx0, sy0), (tx, ty), th) in enumerate(tips):
        rf = FINGER_SOFT_R[f] * sg * soft_f
        pad = 0.25 * sg
        dx, dy = tx - sx0, ty - sy0
        Lf = torch.hypot(dx, dy) + pad
        thf = torch.atan2(dx, dy)
        back = 0.6 * sg if f else 1.2 * sg  # start inside the palm
        soft.append(_prim(ref, sx0 - torch.sin(thf) * back, sy0 - torch.cos(thf) * back, thf, Lf + back - rf, rf,
                          fp=0.12, wp=0.4, c0=rf, c1=rf, k=0.85))
    # palm: widens from the wrist (~5.6 cm) to the metacarpal heads (~8 cm), ~3 cm thick
    px, py = P(-0.3, -0.5)
    qx, qy = P(-0.4, 9.0)
    palm_w = 2.65 * sg * wx * soft_f.sqrt()
    soft.append(_prim(ref, px, py, torch.atan2(qx - px, qy - py), torch.hypot(qx - px, qy - py), palm_w,
                      fd=0.15, wd=0.8, c0=1.0 * palm_w, c1=0.5 * palm_w, k=0.58))
    th1 = bones["mc1"]["th"]
    ax_, ay_ = P(1.3, 1.0)
    soft.append(_prim(ref, ax_, ay_, th1, MC_LEN[0] * sg * 1.0, 1.5 * sg * soft_f, k=0.65))  # thenar eminence
    m1x = bones["mc1"]["ax"] + torch.sin(th1) * MC_LEN[0] * sg * 0.7
    m1y = bones["mc1"]["ay"] + torch.cos(th1) * MC_LEN[0] * sg * 0.7
    m2x, m2y = P(1.9, 9.0)
    soft.append(_prim(ref, m1x, m1y, torch.atan2(m2x - m1x, m2y - m1y), torch.hypot(m2x - m1x, m2y - m1y), 0.7 * sg * soft_f,
                      k=0.5))  # thumb-index web
    ax_, ay_ = P(0.1, -0.72 * H_REF)
    bx_, by_ = P(-0.2, 0.8)
    soft.append(_prim(ref, ax_, ay_, torch.atan2(bx_ - ax_, by_ - ay_), torch.hypot(bx_ - ax_, by_ - ay_), 2.45 * sg * wx * soft_f.sqrt(),
                      fp=0.35, wp=0.9, c0=1.0 * sg, c1=3.0 * sg, k=0.72))

    # image transform: hand point (xa, ya) lands at pixel (cx, cy), rotation phi, s px / cm
    if cfg.pose_variation:
        phi = math.radians(cfg.max_rotation_deg) * (2 * u[:, 12] - 1)
        fov = 1.22 + 0.2 * u[:, 13]  # image height in hand lengths
        cxp = S * (0.5 + 0.07 * (2 * u[:, 14] - 1))
        cyp = S * (0.5 + 0.05 * (2 * u[:, 15] - 1))
    else:
        phi, fov = torch.zeros_like(ref), torch.full_like(ref, 1.3)
        cxp, cyp = torch.full_like(ref, S / 2), torch.full_like(ref, S / 2)
    T = dict(s=S / (fov * hl), phi=phi, cx=cxp, cy=cyp, xa=0.1 * sg, ya=0.40 * hl)

    groups = {
        # fixed groups of similar patch size (a fixed order keeps sums batch-independent)
        "forearm": ([bones["radius"], bones["ulna"]], True, 1),
        "metacarpal": ([bones[f"mc{i}"] for i in range(2, 6)], True, 2),
        "thumb": ([bones[n] for n in ("mc1", "pp1", "dp1")], True, 2),
        "proximal": ([bones[f"pp{i}"] for i in range(2, 6)], True, 3),
        "distal": ([bones[n] for n in ("mp2", "mp3", "mp4", "mp5", "dp2", "dp3", "dp4", "dp5")], True, 3),
        "forearm_nuclei": ([p for n, p in nuclei if n in ("radius", "ulna")], False, 4),
        "nuclei": ([p for n, p in nuclei if n not in ("radius", "ulna")], False, 4),
        "carpal": ([p for _, p in carp], False, 5),
    }
    return dict(mat=mat, gap_cm=gap_cm, groups=groups, soft=soft, growth=growth_reg, T=T, marks=marks,
                hand_length=hl, mineral=0.75 + 0.25 * (1 - torch.exp(-ag / 4)))



def _blur_sep(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable blur of x (B,1,H,W) with per-image 1-D kernels w (B,2r+1), replicate padding."""
    r = (w.shape[1] - 1) // 2
    H, W = x.shape[-2:]
    w4 = w[:, None, None, :]
    xp = F.pad(x, (r, r, 0, 0), mode="replicate")
    # tap by tap into one buffer: the same roundings as sum(w_k * x_k) (no fused multiply-add)
    y, t = w4[..., 0:1] * xp[..., :, 0:W], torch.empty_like(x)
    for k in range(1, 2 * r + 1):
        y.add_(torch.mul(w4[..., k : k + 1], xp[..., :, k : k + W], out=t))
    yp = F.pad(y, (0, 0, r, r), mode="replicate")
    y = w4[..., 0:1] * yp[..., 0:H, :]
    for k in range(1, 2 * r + 1):
        y.add_(torch.mul(w4[..., k : k + 1], yp[..., k : k + H, :], out=t))
    return y



def _gauss(sig: torch.Tensor, r: int) -> torch.Tensor:
    k = torch.arange(-r, r + 1, dtype=sig.dtype, device=sig.device)
    w = torch.exp(-0.5 * (k[None] / sig[:, None].clamp(min=1e-3)) ** 2)
    return w / w.sum(1, keepdim=True)



def _run_chunks(fn, starts, dev: torch.device) -> None:
    """Run ``fn`` over the chunk starts. On the CPU, chunks go to a pool of ``torch.get_num_threads()``
    Python threads with one intra-op thread each: the kernels are small (a few images' patches), and
    intra-op threading on them costs more than it gains (2 cores, 256 px: two intra-op threads gave
    115-140 images/s, one thread about 200, this pool about 210; the GIL bounds it). Chunks write
    disjoint slices, and each pixel's arithmetic is the same in any thread, so the bytes do not
    depend on the number of threads."""
    starts = list(starts)
    n = torch.get_num_threads()
    if dev.type != "cpu" or n == 1 or len(starts) == 1:
        for i0 in starts:
            fn(i0)
        return
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(min(n, len(starts))) as pool:
            list(pool.map(fn, starts))
    finally:
        torch.set_num_threads(n)



def _render_batch(idx: torch.Tensor, seed: int, cfg: PhantomConfig, S: int, masks: bool, override: dict | None = None,
                  device="cpu") -> dict:
    subj, z, u, tex = _draw(idx, seed, cfg, S)
    B = len(idx)
    if override:  # fixed bone age / sex (figures, tests): CA = BA, readings = BA
        ba = torch.as_tensor(override.get("bone_age", subj["bone_age"]), dtype=torch.float32).expand(B).clone()
        subj.update(bone_age=ba, chrono_age=ba.clone(), readings=ba[:, None].repeat(1, 2), label=ba.clone())
        if "male" in override:
            subj["male"] = torch.as_tensor(override["male"]).to(torch.bool).expand(B).clone()
    dev = torch.device(device)
    subj = _to(subj, dev)
    z, u = z.to(dev), u.to(dev)
    # The scene (a few thousand numbers) is computed in float64 and rounded to float32: transcendental
    # functions may differ in the last bit between SIMD body and scalar tail, which depends on the
    # batch size; float64 makes such differences vanish on rounding.
    subj64 = {k: (v.double() if v.is_floating_point() else v) for k, v in subj.items()}
    z, u = z.double(), u.double()
    sc = _scene(subj64, z, u, cfg, S, masks)
    T = sc["T"]
    groups = [(name, _prepare(_stack(prims), T, tub)) for name, (prims, tub, _) in sc["groups"].items()]
    if masks and sc["growth"]:
        groups.append(("growth", _prepare(_stack(sc["growth"]), T, False)))
    S_soft = max(S // 2, 8)
    soft_ps = [_prepare(_stack(sc["soft"][:5]), T, True, scale=S_soft / S),  # fingers
               _prepare(_stack(sc["soft"][5:]), T, True, scale=S_soft / S)]  # palm, thenar, web, forearm
    t2 = torch.stack([a for a, _ in tex])[:, None].to(dev)
    t6 = torch.stack([b for _, b in tex])[:, None].to(dev)
    tex_half = 0.6 * t2 + 0.8 * F.interpolate(t6, size=t2.shape[-2:], mode="bilinear", align_corners=False)

    # site / exposure parameters (B,)
    if cfg.site_variation:
        e = u[:, 16]
        heel, heel_dir = 0.05 + 0.10 * u[:, 17], 2 * math.pi * u[:, 18]
        scat, sig = 0.02 + 0.05 * u[:, 19], (0.5 + 0.5 * u[:, 20]) * S / 256
        q0 = 0.7 + 0.4 * u[:, 21]
        lo, hi, gam = 0.03 + 0.27 * u[:, 22], 0.85 + 0.15 * u[:, 23], torch.exp(0.5 * (u[:, 24] - 0.5))
    else:
        c = lambda v: torch.full((B,), float(v), device=dev)
        e, heel, heel_dir, scat, sig = c(0.5), c(0.08), c(math.pi / 2), c(0.04), c(0.7 * S / 256)
        q0, lo, hi, gam = c(0.9), c(0.12), c(0.95), c(1.0)
    mu_b, mu_s = 2.2 - 0.9 * e, 0.37 - 0.09 * e  # cm^-1 at an effective ~32-40 keV
    mu_bone = (mu_b - mu_s) * sc["mineral"]  # bone replaces soft tissue along the ray
    r_blur = max(1, int(math.ceil(2 * 1.0 * S / 256)))
    wblur = _gauss(sig, r_blur).float()
    mu_bone, mu_s, heel, heel_dir, scat, q0, lo, hi, gam = (t.float() for t in (mu_bone, mu_s, heel, heel_dir, scat, q0, lo, hi, gam))
    u = u.float()
    ar = torch.arange(S, dtype=torch.float32, device=dev)
    xn, yn = ((ar + 0.5) / S - 0.5)[None, :], ((ar + 0.5) / S - 0.5)[:, None]  # (1,S), (S,1)
    n_lay = 2 + (4 if masks else 0)  # cortical, trabecular, [carpal, growth, bone, -]
    image = torch.empty(B, 1, S, S, device=dev)
    mask_out = {k: torch.empty(B, 1, S, S, dtype=torch.bool, device=dev) for k in ("bones", "carpals", "epiphyses", "hand")} if masks else None
    cb = max(1, 200_000 // (S * S))  # images per chunk: keep the working set in cache
    S2 = S + 2
    def chunk(i0: int) -> None:
        sl = slice(i0, min(B, i0 + cb))
        b = sl.stop - sl.start
        buf = torch.zeros(n_lay, b * S2 * S2, device=dev)
        for name, p in groups:
            if name == "growth":
                flat, t_out, _, _ = _splat(p, sl, S, False)
                buf[3].index_add_(0, flat.reshape(-1), t_out.reshape(-1))
                continue
            flat, t_out, cort, trab = _splat(p, sl, S, True)
            fl = flat.reshape(-1)
            buf[0].index_add_(0, fl, cort.reshape(-1))
            buf[1].index_add_(0, fl, trab.reshape(-1))
            if masks:
                buf[4].index_add_(0, fl, t_out.reshape(-1))
                if name == "carpal":
                    buf[2].index_add_(0, fl, t_out.reshape(-1))
        lay = buf.view(n_lay, b, 1, S2, S2)[..., 1:-1, 1:-1]  # crop the guard ring
        Ss2 = S_soft + 2
        soft = torch.zeros(b * Ss2 * Ss2, device=dev)
        for soft_p in soft_ps:
            flat, t_out, _, _ = _splat(soft_p, sl, S_soft, False)
            soft.scatter_reduce_(0, flat.reshape(-1), t_out.reshape(-1), reduce="amax")
        tsoft = soft.view(b, 1, Ss2, Ss2)[..., 1:-1, 1:-1]
        tsoft = F.interpolate(tsoft, size=(S, S), mode="bilinear", align_corners=False) if S_soft != S else tsoft

        # trabecular texture: band-limited noise modulating the trabecular density
        noise = F.interpolate(tex_half[sl], size=(S, S), mode="bilinear", align_corners=False)
        v4 = lambda t: t[sl, None, None, None]
        q = (noise.mul_(cfg.texture).add_(1).clamp_(min=0)).mul_(lay[1]).add_(lay[0]).mul_(v4(mu_bone))
        q += v4(mu_s) * tsoft  # (b,1,S,S) line integral of attenuation
        if cfg.collimation:  # unexposed borders (left, right, top, bottom); separable masks
            w = 0.1 * u[sl, 25:29] * (u[sl, 29:33] < 0.5)
            w4 = lambda j: w[:, j, None, None, None]
            cx_ = (((xn + 0.5) < w4(0)) | ((0.5 - xn) < w4(1))).float()  # (b,1,1,S)
            cy_ = (((yn + 0.5) < w4(2)) | ((0.5 - yn) < w4(3))).float()  # (b,1,S,1)
            a = v4(1.5 + 2.5 * u[:, 33])  # scaled before the outer maximum: {0, a} either way
            q += torch.maximum(cx_ * a, cy_ * a)
        if cfg.marker:  # lead 'L' near a corner: a vertical and a horizontal bar
            on = v4(u[:, 34] < 0.8).float()
            corner_x = torch.where(u[:, 35] < 0.5, 0.06 + 0.03 * u[:, 36], 0.86 - 0.03 * u[:, 36])
            corner_y = torch.where(u[:, 37] < 0.5, 0.06, 0.83) + 0.03 * u[:, 38]
            hv = v4(0.06 + 0.03 * u[:, 39])
            bx, by = xn + 0.5 - v4(corner_x), yn + 0.5 - v4(corner_y)  # relative to the letter's top-left
            bar = hv * 0.22
            vx, vy = ((bx >= 0) & (bx < bar)).float() * (on * 4.0), ((by >= 0) & (by < hv)).float()
            hx_, hy_ = ((bx >= 0) & (bx < 0.7 * hv)).float() * (on * 4.0), ((by >= hv - bar) & (by < hv)).float()
            q += torch.maximum(vx * vy, hx_ * hy_)
        heel_f = 1 + 2 * v4(heel) * (xn * v4(torch.cos(heel_dir)) + yn * v4(torch.sin(heel_dir)))
        I = q.neg_().exp_().mul_(heel_f)  # Beer-Lambert with the heel effect
        k = max(S // 16, 1)
        lowp = F.interpolate(F.avg_pool2d(I, k), size=(S, S), mode="bilinear", align_corners=False)
        I = I.add_(lowp.mul_(v4(scat))).div_(1 + v4(scat))  # a little blurred scatter
        I = _blur_sep(I, wblur[sl])  # detector blur
        # log transform q = -ln I, then film-like v = 1 - exp(-(q + 0.12) / q0) = 1 - e^(-0.12/q0) I^(1/q0)
        vv = I.clamp_(min=1e-6).pow_(v4(1 / q0)).mul_(v4(torch.exp(-0.12 / q0))).neg_().add_(1).clamp_(0, 1)
        image[sl] = (vv.pow_(v4(gam)).mul_(v4(hi - lo)).add_(v4(lo))).clamp_(0, 1)
        if masks:
            thr = 0.03
            mask_out["bones"][sl] = lay[4] > thr
            mask_out["carpals"][sl] = lay[2] > thr
            mask_out["epiphyses"][sl] = lay[3] > thr
            mask_out["hand"][sl] = tsoft > 0.1

    _run_chunks(chunk, range(0, B, cb), dev)

    mat = sc["mat"]
    out = dict(subj)
    out.update(image=image, hand_length_cm=sc["hand_length"])
    out["maturity"] = dict(names=CENTRES, present=mat["present"], size=mat["size"], fusion=mat["fusion"],
                           physis_gap=mat["physis_gap"], physis_gap_cm=sc["gap_cm"] * EVENTS["is_epi"].float().to(dev),
                           eff_age=mat["eff_age"], n_carpals=mat["n_carpals"])
    # landmarks: bone centres in pixels (x, y)
    names = list(sc["marks"].keys())
    mx = torch.stack([sc["marks"][n][0] for n in names], 1) - T["xa"][:, None]
    my = torch.stack([sc["marks"][n][1] for n in names], 1) - T["ya"][:, None]
    cph, sph, s = torch.cos(T["phi"])[:, None], torch.sin(T["phi"])[:, None], T["s"][:, None]
    out["landmarks"] = torch.stack([T["cx"][:, None] + s * (cph * mx - sph * my), T["cy"][:, None] - s * (sph * mx + cph * my)], -1)
    out["landmark_names"] = tuple(names)
    out = _f32(out)
    if masks:
        out["masks"] = mask_out
    return out



def _f32(x):
    if torch.is_tensor(x):
        return x.float() if x.dtype == torch.float64 else x
    if isinstance(x, dict):
        return {k: _f32(v) for k, v in x.items()}
    return x



def _to(x, device):
    if torch.is_tensor(x):
        return x.to(device)
    if isinstance(x, dict):
        return {k: _to(v, device) for k, v in x.items()}
    return x


def render(indices, seed: int = 0, config: PhantomConfig | None = None, device="cpu", masks: bool = False,
           size: int | None = None, override: dict | None = None) -> dict:
    """Render the images of ``indices`` (an int, list or int64 tensor).

    Returns 'image' float32 (B,1,S,S) in [0,1], the ``sample_subjects`` fields, 'maturity' (per-centre
    state, see ``maturity_state``, plus 'physis_gap_cm'), 'landmarks' (B,31,2) pixel (x,y) bone centres
    named by 'landmark_names', 'hand_length_cm'; with ``masks`` also 'masks': name -> bool (B,1,S,S)
    for 'bones', 'carpals', 'epiphyses' (growth regions: nuclei + physes + metaphyseal edges), 'hand'.
    The geometry is computed on the CPU (small); tensors are returned on ``device``.
    """
    cfg = config or PhantomConfig()
    S = int(size or cfg.size)
    idx = torch.as_tensor(indices, dtype=torch.int64).reshape(-1).cpu()
    return _render_batch(idx, seed, cfg, S, masks, override, device)
