"""The renderer: the scene's primitives splatted into density maps, soft tissue, the X-ray projection
and the film's look, batched on any device. Same seed, same bytes: an image does not depend on the
batch, the chunking or the threads.

Layer: phantom.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from baa.phantom.anatomy import (CENTRES, EVENTS, N_U, N_Z, U_COLUMNS, Z_COLUMNS, PhantomConfig, generators,
                                 named_draws, subjects_of)
from baa.phantom.scene import scene, stack

_BOX_MARGIN = 1.5  # pixels around each primitive's box (tests widen it: the image must not change)
MASK_THRESHOLD_CM = 0.03  # bone thickness above which a pixel is in a bone mask
BONE_LAYERS = ("cortical", "trabecular", "carpal", "growth", "bone")  # the splat buffer's rows (the last three: masks)


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
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(min(n, len(starts))) as pool:
            list(pool.map(fn, starts))
    finally:
        torch.set_num_threads(n)


def _draw(indices: torch.Tensor, seed: int, cfg: PhantomConfig, S: int):
    """Each image's own generator: its subject, then its N_Z normals and N_U uniforms (anatomy, pose,
    site), then the trabecular texture at two scales."""
    gens = generators(indices, seed)
    subj = subjects_of(indices, seed, cfg, gens)
    z = torch.stack([torch.randn(N_Z, generator=g) for g in gens])
    u = torch.stack([torch.rand(N_U, generator=g) for g in gens])
    s2, s4 = max(S // 2, 4), max(S // 6, 4)
    tex = [(torch.randn(s2, s2, generator=g), torch.randn(s4, s4, generator=g)) for g in gens]
    return subj, z, u, tex


def _override(subj: dict, override: dict, B: int) -> dict:
    """A fixed bone age (and sex) for figures and tests: CA = BA, readings = BA."""
    ba = torch.as_tensor(override.get("bone_age", subj["bone_age"]), dtype=torch.float32).expand(B).clone()
    subj.update(bone_age=ba, chrono_age=ba.clone(), readings=ba[:, None].repeat(1, 2), label=ba.clone())
    if "male" in override:
        subj["male"] = torch.as_tensor(override["male"]).to(torch.bool).expand(B).clone()
    return subj


def _texture(tex: list, dev: torch.device) -> torch.Tensor:
    """Band-limited noise at half the image size that modulates the trabecular density."""
    t2 = torch.stack([a for a, _ in tex])[:, None].to(dev)
    t6 = torch.stack([b for _, b in tex])[:, None].to(dev)
    return 0.6 * t2 + 0.8 * F.interpolate(t6, size=t2.shape[-2:], mode="bilinear", align_corners=False)


def _site(u, B: int, S: int, cfg: PhantomConfig, dev: torch.device, mineral: torch.Tensor) -> SimpleNamespace:
    """Each image's exposure and film (B,) float32: attenuation of bone and soft tissue at the beam's
    energy, heel effect, scatter, detector blur kernel, film speed, black and white levels, gamma."""
    if cfg.site_variation:
        e = u.energy
        heel, heel_dir = 0.05 + 0.10 * u.heel, 2 * math.pi * u.heel_direction
        scat, sig = 0.02 + 0.05 * u.scatter, (0.5 + 0.5 * u.blur) * S / 256
        q0 = 0.7 + 0.4 * u.film_speed
        lo, hi, gam = 0.03 + 0.27 * u.black, 0.85 + 0.15 * u.white, torch.exp(0.5 * (u.gamma - 0.5))
    else:
        c = lambda v: torch.full((B,), float(v), device=dev)
        e, heel, heel_dir, scat, sig = c(0.5), c(0.08), c(math.pi / 2), c(0.04), c(0.7 * S / 256)
        q0, lo, hi, gam = c(0.9), c(0.12), c(0.95), c(1.0)
    mu_b, mu_s = 2.2 - 0.9 * e, 0.37 - 0.09 * e  # cm^-1 at an effective ~32-40 keV
    mu_bone = (mu_b - mu_s) * mineral  # bone replaces soft tissue along the ray
    r_blur = max(1, int(math.ceil(2 * 1.0 * S / 256)))
    site = dict(mu_bone=mu_bone, mu_s=mu_s, heel=heel, heel_dir=heel_dir, scat=scat, q0=q0, lo=lo, hi=hi, gam=gam)
    return SimpleNamespace(blur=_gauss(sig, r_blur).float(), **{k: t.float() for k, t in site.items()})


def _bone_layers(b: SimpleNamespace, sl: slice, n: int) -> torch.Tensor:
    """Path lengths (cm) through the bones of images ``sl``, (len(BONE_LAYERS) or 2, n, 1, S, S): cortical
    and trabecular (weighted by density) for the image; with masks also the carpals', the growth
    regions' and every bone's chord."""
    S = b.S
    S2 = S + 2
    n_lay = len(BONE_LAYERS) if b.masks else 2
    buf = torch.zeros(n_lay, n * S2 * S2, device=b.dev)
    for name, p in b.groups:
        if name == "growth":
            flat, t_out, _, _ = _splat(p, sl, S, False)
            buf[3].index_add_(0, flat.reshape(-1), t_out.reshape(-1))
            continue
        flat, t_out, cort, trab = _splat(p, sl, S, True)
        fl = flat.reshape(-1)
        buf[0].index_add_(0, fl, cort.reshape(-1))
        buf[1].index_add_(0, fl, trab.reshape(-1))
        if b.masks:
            buf[4].index_add_(0, fl, t_out.reshape(-1))
            if name == "carpal":
                buf[2].index_add_(0, fl, t_out.reshape(-1))
    return buf.view(n_lay, n, 1, S2, S2)[..., 1:-1, 1:-1]  # crop the guard ring


def _soft_layer(b: SimpleNamespace, sl: slice, n: int) -> torch.Tensor:
    """Soft tissue (cm) of images ``sl``, (n, 1, S, S): the thickest part at each pixel, splatted at
    half resolution and upsampled (it is smooth)."""
    Ss2 = b.S_soft + 2
    soft = torch.zeros(n * Ss2 * Ss2, device=b.dev)
    for soft_p in b.soft:
        flat, t_out, _, _ = _splat(soft_p, sl, b.S_soft, False)
        soft.scatter_reduce_(0, flat.reshape(-1), t_out.reshape(-1), reduce="amax")
    tsoft = soft.view(n, 1, Ss2, Ss2)[..., 1:-1, 1:-1]
    return F.interpolate(tsoft, size=(b.S, b.S), mode="bilinear", align_corners=False) if b.S_soft != b.S else tsoft


def _collimation(b: SimpleNamespace, sl: slice, v4) -> torch.Tensor:
    """Unexposed borders (left, right, top, bottom), each present or not; separable masks."""
    u, xn, yn = b.u, b.xn, b.yn
    w = 0.1 * u.collimation_width[sl] * (u.collimation_on[sl] < 0.5)
    w4 = lambda j: w[:, j, None, None, None]
    cx_ = (((xn + 0.5) < w4(0)) | ((0.5 - xn) < w4(1))).float()  # (b,1,1,S)
    cy_ = (((yn + 0.5) < w4(2)) | ((0.5 - yn) < w4(3))).float()  # (b,1,S,1)
    a = v4(1.5 + 2.5 * u.collimation_density)  # scaled before the outer maximum: {0, a} either way
    return torch.maximum(cx_ * a, cy_ * a)


def _marker(b: SimpleNamespace, v4) -> torch.Tensor:
    """A lead 'L' near a corner (on 4 of 5 films): a vertical and a horizontal bar."""
    u, xn, yn = b.u, b.xn, b.yn
    on = v4(u.marker_on < 0.8).float()
    corner_x = torch.where(u.marker_side_x < 0.5, 0.06 + 0.03 * u.marker_x, 0.86 - 0.03 * u.marker_x)
    corner_y = torch.where(u.marker_side_y < 0.5, 0.06, 0.83) + 0.03 * u.marker_y
    hv = v4(0.06 + 0.03 * u.marker_size)
    bx, by = xn + 0.5 - v4(corner_x), yn + 0.5 - v4(corner_y)  # relative to the letter's top-left
    bar = hv * 0.22
    vx, vy = ((bx >= 0) & (bx < bar)).float() * (on * 4.0), ((by >= 0) & (by < hv)).float()
    hx_, hy_ = ((bx >= 0) & (bx < 0.7 * hv)).float() * (on * 4.0), ((by >= hv - bar) & (by < hv)).float()
    return torch.maximum(vx * vy, hx_ * hy_)


def _film(b: SimpleNamespace, sl: slice, q: torch.Tensor, v4) -> torch.Tensor:
    """The line integral ``q`` of images ``sl`` through the beam (Beer-Lambert, heel effect, scatter,
    detector blur) onto film (log transform, characteristic curve, levels, gamma)."""
    st, S = b.site, b.S
    heel_f = 1 + 2 * v4(st.heel) * (b.xn * v4(torch.cos(st.heel_dir)) + b.yn * v4(torch.sin(st.heel_dir)))
    I = q.neg_().exp_().mul_(heel_f)  # Beer-Lambert with the heel effect
    k = max(S // 16, 1)
    lowp = F.interpolate(F.avg_pool2d(I, k), size=(S, S), mode="bilinear", align_corners=False)
    I = I.add_(lowp.mul_(v4(st.scat))).div_(1 + v4(st.scat))  # a little blurred scatter
    I = _blur_sep(I, st.blur[sl])  # detector blur
    # log transform q = -ln I, then film-like v = 1 - exp(-(q + 0.12) / q0) = 1 - e^(-0.12/q0) I^(1/q0)
    vv = I.clamp_(min=1e-6).pow_(v4(1 / st.q0)).mul_(v4(torch.exp(-0.12 / st.q0))).neg_().add_(1).clamp_(0, 1)
    return (vv.pow_(v4(st.gam)).mul_(v4(st.hi - st.lo)).add_(v4(st.lo))).clamp_(0, 1)


def _render_chunk(b: SimpleNamespace, i0: int) -> None:
    """Images ``i0 .. i0 + b.chunk`` into ``b.image`` (and ``b.mask_out``)."""
    sl = slice(i0, min(b.B, i0 + b.chunk))
    n = sl.stop - sl.start
    lay = _bone_layers(b, sl, n)
    tsoft = _soft_layer(b, sl, n)
    noise = F.interpolate(b.texture[sl], size=(b.S, b.S), mode="bilinear", align_corners=False)
    v4 = lambda t: t[sl, None, None, None]
    q = (noise.mul_(b.cfg.texture).add_(1).clamp_(min=0)).mul_(lay[1]).add_(lay[0]).mul_(v4(b.site.mu_bone))
    q += v4(b.site.mu_s) * tsoft  # (b,1,S,S) line integral of attenuation
    if b.cfg.collimation:
        q += _collimation(b, sl, v4)
    if b.cfg.marker:
        q += _marker(b, v4)
    b.image[sl] = _film(b, sl, q, v4)
    if b.masks:
        b.mask_out["bones"][sl] = lay[4] > MASK_THRESHOLD_CM
        b.mask_out["carpals"][sl] = lay[2] > MASK_THRESHOLD_CM
        b.mask_out["epiphyses"][sl] = lay[3] > MASK_THRESHOLD_CM
        b.mask_out["hand"][sl] = tsoft > 0.1


def _landmarks(marks: dict, T: dict) -> torch.Tensor:
    """Bone centres (hand frame, cm) as pixels (x, y), (B, len(marks), 2)."""
    names = list(marks.keys())
    mx = torch.stack([marks[n][0] for n in names], 1) - T["xa"][:, None]
    my = torch.stack([marks[n][1] for n in names], 1) - T["ya"][:, None]
    cph, sph, s = torch.cos(T["phi"])[:, None], torch.sin(T["phi"])[:, None], T["s"][:, None]
    return torch.stack([T["cx"][:, None] + s * (cph * mx - sph * my), T["cy"][:, None] - s * (sph * mx + cph * my)], -1)


def _render_batch(idx: torch.Tensor, seed: int, cfg: PhantomConfig, S: int, masks: bool, override: dict | None = None,
                  device="cpu") -> dict:
    subj, z, u, tex = _draw(idx, seed, cfg, S)
    B = len(idx)
    if override:
        subj = _override(subj, override, B)
    dev = torch.device(device)
    subj = _to(subj, dev)
    # The scene (a few thousand numbers) is computed in float64 and rounded to float32: transcendental
    # functions may differ in the last bit between SIMD body and scalar tail, which depends on the
    # batch size; float64 makes such differences vanish on rounding.
    subj64 = {k: (v.double() if v.is_floating_point() else v) for k, v in subj.items()}
    z64, u64 = z.to(dev).double(), u.to(dev).double()
    sc = scene(subj64, named_draws(z64, Z_COLUMNS), named_draws(u64, U_COLUMNS), cfg, S, masks)
    T = sc["T"]
    groups = [(name, _prepare(stack(prims), T, tub)) for name, (prims, tub) in sc["groups"].items()]
    if masks and sc["growth"]:
        groups.append(("growth", _prepare(stack(sc["growth"]), T, False)))
    S_soft = max(S // 2, 8)
    soft = [_prepare(stack(sc["soft"][:5]), T, True, scale=S_soft / S),  # fingers
            _prepare(stack(sc["soft"][5:]), T, True, scale=S_soft / S)]  # palm, thenar, web, forearm
    ar = torch.arange(S, dtype=torch.float32, device=dev)
    b = SimpleNamespace(
        B=B, S=S, S_soft=S_soft, cfg=cfg, masks=masks, dev=dev, groups=groups, soft=soft, texture=_texture(tex, dev),
        site=_site(named_draws(u64, U_COLUMNS), B, S, cfg, dev, sc["mineral"]), u=named_draws(u64.float(), U_COLUMNS),
        xn=((ar + 0.5) / S - 0.5)[None, :], yn=((ar + 0.5) / S - 0.5)[:, None],  # (1,S), (S,1)
        chunk=max(1, 200_000 // (S * S)),  # images per chunk: keep the working set in cache
        image=torch.empty(B, 1, S, S, device=dev),
        mask_out={k: torch.empty(B, 1, S, S, dtype=torch.bool, device=dev) for k in ("bones", "carpals", "epiphyses", "hand")}
        if masks else None)
    _run_chunks(lambda i0: _render_chunk(b, i0), range(0, B, b.chunk), dev)

    mat = sc["mat"]
    out = dict(subj)
    out.update(image=b.image, hand_length_cm=sc["hand_length"])
    out["maturity"] = dict(names=CENTRES, present=mat["present"], size=mat["size"], fusion=mat["fusion"],
                           physis_gap=mat["physis_gap"], physis_gap_cm=sc["gap_cm"] * EVENTS["is_epi"].float().to(dev),
                           eff_age=mat["eff_age"], n_carpals=mat["n_carpals"])
    out["landmarks"] = _landmarks(sc["marks"], T)
    out["landmark_names"] = tuple(sc["marks"])
    out = _f32(out)
    if masks:
        out["masks"] = b.mask_out
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
