"""Degrade an image live and watch the pipelines respond (chapter 6).

- ``label_box`` / ``label_at``: the paper's black label (section 3.1.2) at an explicit size and
  position inside the central 60 % of the image (``baa.degrade.black_label`` draws them at random).
- ``degrade_view``: one image degraded with explicit strengths, in ``baa.degrade.degrade``'s order
  (low resolution, then Poisson noise, then the label).
- ``assess_view``: the pure function behind the app: the degraded image, CQ's and DQ's restorations
  and residuals, CQ's class probabilities (Fig. 7) and every pipeline's bone age (Fig. 10).
  Tests and the static gallery call it without a browser.
- ``build_app``: the ipywidgets app for JupyterLab; ``photon_demo`` drives it from code as a reader
  would. ``plot_views`` (the ``GALLERY`` of settings), ``sweeps`` / ``plot_sweeps`` /
  ``sweep_summary``: the same computation as static figures and sentences for the HTML book.

Widgets carry stable ``description``s and CSS classes (``baa-kind``, ``baa-photons``,
``baa-label-size``, ``baa-label-x``, ``baa-label-y``, ``baa-factor``, ``baa-seed``, ``baa-image``,
``baa-age-readout``, ``baa-probs``, ``baa-status``) so browser tests can find them.
"""

from __future__ import annotations

from baa.paper import PIPELINE_NAMES, PIPELINES

import io
import time

import numpy as np
import torch

from baa import degrade as D

__all__ = ["VIEW_KINDS", "PIPELINE_ORDER", "GALLERY", "SWEEPS", "default_settings", "label_box", "label_at",
           "degrade_view", "assess_view", "png_bytes", "age_readout_html", "probs_html", "build_app", "photon_demo",
           "photon_demo_text", "plot_views", "plot_sweep", "sweeps", "plot_sweeps", "sweep_summary"]

VIEW_KINDS = ("none", "noise", "label", "lowres", "all")
PIPELINE_ORDER = PIPELINES
RESTORING = ("cq", "dq")
FACTORS = (1, 2, 3, 4, 6, 8)
# Chapter 6's static gallery: one row per setting (keywords of ``assess_view`` over ``default_settings``).
GALLERY = (dict(kind="none"), dict(kind="noise"), dict(kind="noise", photons=D.PHOTONS / 10), dict(kind="label"),
           dict(kind="label", label_size=D.LABEL_REGION / 2, label_pos=(0.0, 1.0)), dict(kind="lowres"),
           dict(kind="lowres", factor=2 * D.LOWRES_FACTOR), dict(kind="all"))
# Chapter 6's sweeps: name -> (kind, the ``assess_view`` keyword varied, its values).
SWEEPS = {"photons": ("noise", "photons", tuple(float(x) for x in np.logspace(0.5, 4, 10))),
          "label size": ("label", "label_size", tuple(float(x) for x in np.linspace(0.05, D.LABEL_REGION, 6))),
          "downscale": ("lowres", "factor", FACTORS)}


def default_settings() -> dict:
    """The book's default strengths (``baa.degrade``'s constants) as ``assess_view`` keywords, no
    degradation selected; the label is the mean of ``LABEL_FRACTION``, centred."""
    return dict(kind="none", photons=D.PHOTONS, label_size=float(np.mean(D.LABEL_FRACTION)), label_pos=(0.5, 0.5),
                factor=D.LOWRES_FACTOR)


def _as_batch(image: torch.Tensor) -> torch.Tensor:
    """(H, W), (1, H, W) or (1, 1, H, W) -> (1, 1, H, W) float."""
    x = torch.as_tensor(image).float()
    while x.ndim < 4:
        x = x.unsqueeze(0)
    if x.shape[:2] != (1, 1):
        raise ValueError(f"one grey image expected, got shape {tuple(image.shape)}")
    return x


def label_box(height: int, width: int, size: float, pos: tuple[float, float],
              region: float = D.LABEL_REGION) -> torch.Tensor:
    """The box ``(1, 4)`` (top, left, bottom, right; exclusive) of a square label whose side is
    ``size`` times the image side, placed at ``pos = (row, col)`` in [0, 1] x [0, 1] *within* the
    central ``region`` of the image (0: the region's top / left edge, 1: its bottom / right edge),
    so the label never leaves the central 60 % (section 3.1.2)."""
    y0, x0 = (1 - region) / 2 * height, (1 - region) / 2 * width
    ry, rx = region * height, region * width
    h = min(max(1, round(size * height)), int(ry))
    w = min(max(1, round(size * width)), int(rx))
    py, px = (min(max(float(p), 0.0), 1.0) for p in pos)
    top = int(np.ceil(y0 + py * (ry - h)))
    left = int(np.ceil(x0 + px * (rx - w)))
    bottom = min(top + h, int(y0 + ry))
    right = min(left + w, int(x0 + rx))
    return torch.tensor([[top, left, bottom, right]], dtype=torch.long)


def label_at(images: torch.Tensor, size: float, pos: tuple[float, float], region: float = D.LABEL_REGION,
             return_mask: bool = False):
    """``images`` ``(B, 1, H, W)`` with the same black (zero) label on each, at an explicit size and
    position (see ``label_box``); with ``return_mask`` also the boolean mask ``(B, 1, H, W)``."""
    B, _, H, W = images.shape
    mask = D.box_mask(label_box(H, W, size, pos, region).expand(B, 4), H, W, images.device)
    out = images.masked_fill(mask, 0.0)
    return (out, mask) if return_mask else out


def degrade_view(image: torch.Tensor, kind: str, photons: float = D.PHOTONS, label_size: float = 0.18,
                 label_pos: tuple[float, float] = (0.5, 0.5), factor: int = D.LOWRES_FACTOR,
                 seed: int = 0) -> torch.Tensor:
    """One image ``(1, 1, H, W)`` under ``kind`` (``none``, ``noise``, ``label``, ``lowres``,
    ``all``) with explicit strengths; ``all`` applies low resolution, noise, label in that order,
    as ``baa.degrade.degrade`` does. The noise is seeded: the same settings give the same bits."""
    x = _as_batch(image)
    if kind in ("none", "high"):
        return x.clone()
    if kind not in VIEW_KINDS:
        raise ValueError(f"unknown degradation {kind!r}; choose one of {', '.join(VIEW_KINDS)}")
    if kind in ("lowres", "all") and int(factor) > 1:
        x = D.low_resolution(x, int(factor))
    if kind in ("noise", "all"):
        x = D.poisson_noise(x, float(photons), seed)
    if kind in ("label", "all"):
        x = label_at(x, label_size, label_pos)
    return x


@torch.inference_mode()
def assess_view(image: torch.Tensor, kind: str, photons: float, label_size: float, label_pos: tuple[float, float],
                factor: int, pipelines: dict, seed: int = 0) -> dict:
    """Degrade one image and run every pipeline on it (Fig. 10).

    Args:
        image: one clean image, ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` in [0, 1].
        kind, photons, label_size, label_pos, factor, seed: as ``degrade_view``.
        pipelines: ``build_pipelines(profile)`` (any of ``plain``, ``cq``, ``dq``, ``nq``; others ignored).

    Returns a dict of plain tensors / floats: ``clean`` and ``degraded`` ``(H, W)``; ``restored``
    and ``residual`` (restored - degraded: what the ResUNet added) ``{"cq"|"dq": (H, W)}``;
    ``probs`` ``{class: probability}`` of CQ's classifier and its ``quality`` (the argmax, i.e. the
    ResUNet CQ routes to); ``ages`` ``{pipeline: years}``; ``settings``.
    """
    clean = _as_batch(image)
    dev = next((p for pipe in pipelines.values() for p in pipe.parameters()), torch.empty(0)).device
    x = degrade_view(clean, kind, photons, label_size, label_pos, factor, seed).to(dev)
    out = {"clean": clean[0, 0].cpu(), "degraded": x[0, 0].cpu(), "restored": {}, "residual": {}, "probs": {},
           "quality": None, "ages": {},
           "settings": dict(kind=kind, photons=float(photons), label_size=float(label_size),
                            label_pos=tuple(float(p) for p in label_pos), factor=int(factor), seed=int(seed))}
    for name in PIPELINE_ORDER:
        if name not in pipelines:
            continue
        pipe = pipelines[name]
        if name == "cq":
            probs = pipe.classify(x)
            restored = pipe.restore(x, probs)
            out["probs"] = {c: float(p) for c, p in zip(pipe.classifier.classes, probs[0].float().cpu())}
            out["quality"] = max(out["probs"], key=out["probs"].get)
        else:
            restored = pipe.restore(x)
        age = pipe.regressor(restored)
        out["ages"][name] = float(age.float()[0])
        if name in RESTORING:
            out["restored"][name] = restored[0, 0].float().cpu()
            out["residual"][name] = (restored - x)[0, 0].float().cpu()
    return out


# -- rendering ---------------------------------------------------------------------------------

def png_bytes(array, vmin: float = 0.0, vmax: float = 1.0, cmap: str | None = None, scale: int = 1) -> bytes:
    """A 2-D array as PNG bytes: grey (``cmap=None``) or through a matplotlib colour map;
    ``scale`` enlarges by pixel repetition so small images stay sharp."""
    from PIL import Image

    a = np.asarray(torch.as_tensor(array).detach().cpu().float().numpy(), dtype=np.float32)
    a = np.clip((a - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    if scale > 1:
        a = a.repeat(scale, 0).repeat(scale, 1)
    if cmap is None:
        img = Image.fromarray(np.round(a * 255).astype(np.uint8), mode="L")
    else:
        import matplotlib

        rgb = matplotlib.colormaps[cmap](a)[..., :3]
        img = Image.fromarray(np.round(rgb * 255).astype(np.uint8), mode="RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _residual_limit(view: dict) -> float:
    peak = max((float(r.abs().max()) for r in view["residual"].values()), default=0.0)
    return max(0.05, peak)


def age_readout_html(view: dict, true_age: float | None = None) -> str:
    """The bone-age readout: the input's settings, every pipeline's age and, given the true age,
    its error."""
    head = ("<b>Bone age</b>" + (f" (true {true_age:.2f} y)" if true_age is not None else "")
            + f" of the input <i>{_settings_title(view['settings'])}</i>")
    cells = []
    for name, age in view["ages"].items():
        err = f" <span style='color:#666'>({age - true_age:+.2f})</span>" if true_age is not None else ""
        cells.append(f"<td style='padding:0 10px'>{PIPELINE_NAMES.get(name, name)}: <b>{age:.2f} y</b>{err}</td>")
    return f"<div>{head}<table><tr>{''.join(cells)}</tr></table></div>"


def probs_html(view: dict) -> str:
    """CQ's class probabilities as bars; the routed class in bold."""
    if not view["probs"]:
        return "<i>no CQ pipeline</i>"
    rows = []
    for c, p in view["probs"].items():
        bold = ("<b>", "</b>") if c == view["quality"] else ("", "")
        rows.append(f"<tr><td>{bold[0]}{c}{bold[1]}</td><td><div style='background:#4c78a8;height:10px;"
                    f"width:{round(120 * p)}px'></div></td><td>{p:.2f}</td></tr>")
    return f"<div><b>CQ classifier</b> &rarr; {view['quality']}<table>{''.join(rows)}</table></div>"


# -- the app -----------------------------------------------------------------------------------

def _widgets():
    import ipywidgets

    return ipywidgets


def _controls(W, kind: str, photons: float, label_size: float, label_pos: tuple[float, float], factor: int,
              seed: int) -> dict:
    """The app's controls, each with its CSS class (``baa-kind``, ``baa-photons``, ...)."""
    style = {"description_width": "90px"}
    lay = W.Layout(width="360px")
    controls = {
        "kind": W.ToggleButtons(options=list(VIEW_KINDS), value=kind, description="Degradation", style=style),
        "photons": W.FloatLogSlider(value=photons, base=10, min=0.5, max=4.0, step=0.05, description="Photons",
                                    readout_format=".3g", continuous_update=False, style=style, layout=lay),
        "label_size": W.FloatSlider(value=label_size, min=0.05, max=D.LABEL_REGION, step=0.01, description="Label size",
                                    continuous_update=False, style=style, layout=lay),
        "label_x": W.FloatSlider(value=label_pos[1], min=0.0, max=1.0, step=0.05, description="Label x",
                                 continuous_update=False, style=style, layout=lay),
        "label_y": W.FloatSlider(value=label_pos[0], min=0.0, max=1.0, step=0.05, description="Label y",
                                 continuous_update=False, style=style, layout=lay),
        "factor": W.SelectionSlider(options=list(FACTORS), value=int(factor), description="Downscale",
                                    continuous_update=False, style=style, layout=lay),
        "seed": W.IntText(value=seed, description="Noise seed", style=style, layout=W.Layout(width="200px")),
    }
    for k, w in controls.items():
        w.add_class("baa-" + k.replace("_", "-"))
    return controls


def _image_cells(W, display_size: int) -> tuple[dict, list]:
    """The app's six images (``baa-image`` and ``baa-image-<name>``), each under its caption."""
    names = {"degraded": "degraded (input)", "restored_cq": "CQ restored", "restored_dq": "DQ restored",
             "clean": "clean", "residual_cq": "CQ residual", "residual_dq": "DQ residual"}
    images, cells = {}, []
    for key, caption in names.items():
        im = W.Image(format="png", width=display_size, height=display_size)
        im.add_class("baa-image")
        im.add_class(f"baa-image-{key.replace('_', '-')}")
        images[key] = im
        cells.append(W.VBox([W.Label(caption), im]))
    return images, cells


def build_app(image: torch.Tensor, true_age: float | None, pipelines: dict, kind: str = "all",
              photons: float = D.PHOTONS, label_size: float = 0.18, label_pos: tuple[float, float] = (0.5, 0.5),
              factor: int = D.LOWRES_FACTOR, seed: int = 0, display_size: int = 192):
    """An ipywidgets app: controls for the degradation (kind, photon number on a log slider, label
    size and position inside the central 60 %, downscale factor, noise seed) and, updated on every
    change, the clean, degraded, CQ- and DQ-restored images, the residuals (red: the ResUNet
    brightened, blue: darkened), CQ's class probabilities and each pipeline's bone age.

    Returns an ``ipywidgets.VBox`` carrying ``controls`` (name -> widget), ``images`` (name ->
    ``ipywidgets.Image``), ``readout`` and ``probs`` (HTML), ``status`` (Label), ``view`` (the
    latest ``assess_view`` result) and ``update()``: ``app.controls["photons"].value = 30``
    updates it without a browser (sliders update on release, not while dragging).
    """
    W = _widgets()
    clean = _as_batch(image)
    scale = max(1, display_size // clean.shape[-1])
    controls = _controls(W, kind, photons, label_size, label_pos, factor, seed)
    images, cells = _image_cells(W, display_size)
    readout = W.HTML(description="")
    readout.add_class("baa-age-readout")
    probs = W.HTML()
    probs.add_class("baa-probs")
    status = W.Label()
    status.add_class("baa-status")
    grid = W.GridBox(cells, layout=W.Layout(grid_template_columns=f"repeat(3, {display_size + 10}px)"))
    left = W.VBox([controls[k] for k in ("kind", "photons", "label_size", "label_x", "label_y", "factor", "seed")]
                  + [probs, status])
    app = W.VBox([W.HBox([left, grid]), readout])
    app.add_class("baa-app")
    app.controls, app.images, app.readout, app.probs, app.status = controls, images, readout, probs, status
    app.view = None
    # what each kind uses; the others are greyed out
    uses = {"photons": ("noise", "all"), "label_size": ("label", "all"), "label_x": ("label", "all"),
            "label_y": ("label", "all"), "factor": ("lowres", "all"), "seed": ("noise", "all")}

    def update(_change=None):
        t0 = time.perf_counter()
        c = {k: w.value for k, w in controls.items()}
        for k, kinds in uses.items():
            controls[k].disabled = c["kind"] not in kinds
        view = assess_view(clean, c["kind"], c["photons"], c["label_size"], (c["label_y"], c["label_x"]),
                           c["factor"], pipelines, seed=int(c["seed"]))
        lim = _residual_limit(view)
        images["clean"].value = png_bytes(view["clean"], scale=scale)
        images["degraded"].value = png_bytes(view["degraded"], scale=scale)
        for name in RESTORING:
            if name in view["restored"]:
                images[f"restored_{name}"].value = png_bytes(view["restored"][name], scale=scale)
                images[f"residual_{name}"].value = png_bytes(view["residual"][name], -lim, lim, "RdBu_r", scale)
        readout.value = age_readout_html(view, true_age)
        probs.value = probs_html(view)
        status.value = f"residual scale +-{lim:.2f}; updated in {time.perf_counter() - t0:.2f} s"
        app.view = view

    for w in controls.values():
        w.observe(update, names="value")
    app.update = update
    update()
    return app


def photon_demo(app, responsive: bool = True, high: float = 1e4, low: float = 10 ** 0.5) -> dict:
    """Drive ``build_app``'s app from code as a reader would: Poisson noise at ``high`` photons
    per pixel, then at ``low``; raise unless the settings, the bone-age readout and the degraded
    image followed the slider (and, when ``responsive``, the ages: a network that answers every
    image alike cannot react). Then back to the default photons with all three degradations.
    Returns ``{"high": ages, "low": ages}`` (pipeline -> years)."""
    app.controls["kind"].value = "noise"
    app.controls["photons"].value = high
    before = (app.readout.value, app.images["degraded"].value, dict(app.view["ages"]))
    app.controls["photons"].value = low
    s = app.view["settings"]
    if s["kind"] != "noise" or abs(s["photons"] - low) > 1e-6:
        raise AssertionError(f"the app did not take the settings: {s}")
    if app.readout.value == before[0] or app.images["degraded"].value == before[1]:
        raise AssertionError("the readout or the degraded image did not follow the photon slider")
    if responsive and dict(app.view["ages"]) == before[2]:
        raise AssertionError("the ages did not follow the photon slider")
    out = {"high": before[2], "low": dict(app.view["ages"]), "photons": (high, low)}
    app.controls["photons"].value = D.PHOTONS
    app.controls["kind"].value = "all"
    if app.view["settings"]["kind"] != "all" or app.controls["label_size"].disabled:
        raise AssertionError("the app did not return to all three degradations")
    return out


def photon_demo_text(demo: dict, spread: float, profile: str) -> str:
    """``photon_demo``'s ages side by side; ``spread``: the SD of plain BoNet+'s ages over the test set."""
    high, low = demo["photons"]
    lines = [f"{PIPELINE_NAMES.get(k, k):10s} {high:g} photons: {demo['high'][k]:6.2f} y   {low:.3g} photons: "
             f"{demo['low'][k]:6.2f} y" for k in demo["high"]]
    if spread <= 0.05:
        lines.append(f"At profile {profile} plain BoNet+ gives the test images ages with a standard deviation of only "
                     f"{spread:.3f} y: it has barely trained, and its ages do not move with the input.")
    return "\n".join(lines)


# -- static figures for the HTML book ----------------------------------------------------------

def _settings_title(s: dict) -> str:
    k = s["kind"]
    parts = [k]
    if k in ("noise", "all"):
        parts.append(f"{s['photons']:.3g} photons")
    if k in ("label", "all"):
        parts.append(f"label {s['label_size']:.2f} at ({s['label_pos'][0]:.1f}, {s['label_pos'][1]:.1f})")
    if k in ("lowres", "all"):
        parts.append(f"{s['factor']}x down")
    return ", ".join(parts)


def plot_views(views: list[dict], true_age: float | None = None, dpi: int = 80):
    """A grid, one row per ``assess_view`` result: degraded input, CQ restored (with its class),
    DQ restored, DQ residual, and the ages of every pipeline against the true age."""
    import matplotlib.pyplot as plt

    n = len(views)
    fig, axes = plt.subplots(n, 5, figsize=(11, 2.3 * n), dpi=dpi, squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.4]})
    for r, v in enumerate(views):
        lim = _residual_limit(v)
        panels = [(v["degraded"], "gray", 0, 1, _settings_title(v["settings"])),
                  (v["restored"].get("cq"), "gray", 0, 1, f"CQ restored ({v['quality']}, p={v['probs'].get(v['quality'], float('nan')):.2f})"
                   if v["probs"] else "CQ restored"),
                  (v["restored"].get("dq"), "gray", 0, 1, "DQ restored"),
                  (v["residual"].get("dq"), "RdBu_r", -lim, lim, f"DQ residual (+-{lim:.2f})")]
        for c, (img, cmap, lo, hi, title) in enumerate(panels):
            ax = axes[r, c]
            if img is not None:
                ax.imshow(np.asarray(img), cmap=cmap, vmin=lo, vmax=hi)
            ax.set_title(title, fontsize=7)
            ax.set_axis_off()
        ax = axes[r, 4]
        names = list(v["ages"])
        ax.barh([PIPELINE_NAMES.get(k, k) for k in names], [v["ages"][k] for k in names], color="#4c78a8")
        if true_age is not None:
            ax.axvline(true_age, color="k", ls="--", lw=1, label=f"true {true_age:.2f} y")
            ax.legend(fontsize=6, loc="lower right")
        ax.tick_params(labelsize=7)
        ax.set_xlabel("bone age (y)", fontsize=7)
        ax.invert_yaxis()
    fig.tight_layout()
    return fig


def plot_sweep(xs, ages: dict[str, list[float]], true_age: float | None, xlabel: str, log: bool = False,
               ax=None, dpi: int = 80):
    """Each pipeline's age as one setting varies (e.g. the photon number)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3), dpi=dpi)
    for name, ys in ages.items():
        ax.plot(xs, ys, marker="o", ms=3, label=PIPELINE_NAMES.get(name, name))
    if true_age is not None:
        ax.axhline(true_age, color="k", ls="--", lw=1, label="true age")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("bone age (y)")
    ax.legend(fontsize=7)
    return ax


def sweeps(image: torch.Tensor, pipelines: dict, defaults: dict, settings: dict = SWEEPS) -> dict:
    """``assess_view`` over each sweep of ``settings`` (one control at a time, the rest at
    ``defaults``): name -> (values, views)."""
    out = {}
    for name, (kind, key, values) in settings.items():
        views = [assess_view(image, **{**defaults, "kind": kind, key: int(v) if key == "factor" else float(v)},
                             pipelines=pipelines) for v in values]
        out[name] = (np.asarray(values), views)
    return out


def plot_sweeps(sw: dict, true_age: float | None, title: str, dpi: int = 80):
    """Each pipeline's age along each sweep (top) and CQ's probability of the swept kind (bottom)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(sw), figsize=(4 * len(sw), 5.5), dpi=dpi, gridspec_kw={"height_ratios": [3, 1]},
                             sharex="col", squeeze=False)
    for c, (name, (xs, views)) in enumerate(sw.items()):
        kind = SWEEPS[name][0] if name in SWEEPS else views[0]["settings"]["kind"]
        plot_sweep(xs, {k: [v["ages"][k] for v in views] for k in views[0]["ages"]}, true_age, "", log=name == "photons",
                   ax=axes[0, c])
        axes[0, c].set_title(name, fontsize=9)
        axes[1, c].plot(xs, [v["probs"].get(kind, np.nan) for v in views], "o-", ms=3, color="#e45756")
        axes[1, c].set_ylim(-0.05, 1.05)
        axes[1, c].set_ylabel(f"CQ: p({kind})", fontsize=8)
        axes[1, c].set_xlabel(name)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def sweep_summary(sweep: tuple, true_age: float, profile: str) -> str:
    """How far each pipeline's age moves over a photon sweep (``sweeps(...)["photons"]``), its error
    at the fewest photons, and where CQ routes the image to the noise expert."""
    xs, views = sweep
    names = list(views[0]["ages"])
    spread = {k: max(v["ages"][k] for v in views) - min(v["ages"][k] for v in views) for k in names}
    err_low = {k: abs(views[0]["ages"][k] - true_age) for k in names}
    routed = [float(x) for x, v in zip(xs, views) if v["quality"] == "noise"]
    steadiest = min(spread, key=spread.get)
    tie = max(spread.values()) - min(spread.values()) < 0.01
    return (f"Over the photon sweep ({xs[0]:.3g} to {xs[-1]:.3g} photons per pixel) the age of "
            + ", ".join(f"{PIPELINE_NAMES[k]} moves by {spread[k]:.2f} y" for k in names)
            + ("; none is steadier than the others" if tie else f"; the steadiest is **{PIPELINE_NAMES[steadiest]}**")
            + ". At the fewest photons the errors are " + ", ".join(f"{PIPELINE_NAMES[k]} {err_low[k]:.2f} y" for k in names)
            + ". " + (f"CQ routes the image to the noise expert at {len(routed)} of the {len(xs)} photon numbers (from "
                      f"{min(routed):.3g} to {max(routed):.3g})." if routed else
                      "CQ never routes the image to the noise expert in this sweep.")
            + f" One image at profile {profile}: a picture of the behaviour, not a measurement; the test-set numbers "
              "beside the paper's Table 4 are in the assessment chapter.")
