"""Chapter 6's live app in a real JupyterLab: run the notebook, move the photon-number and
label-size sliders, and check that the displayed images and the predicted bone ages follow.

JupyterLab runs on localhost with a token, on a temporary copy of ``notebooks/`` (nothing is
written back), with ``BAA_PROFILE=smoke`` for its kernels; the smoke models are trained on first
use (or reused from ``artifacts/smoke``). Screenshots: ``screenshots/widgets/``.
The widgets are found by the CSS classes ``baa.widgets.build_app`` gives them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from browser_helpers import ROOT

pytestmark = pytest.mark.browser

# BAA_WIDGETS_NOTEBOOK: drive another notebook that builds the same app (e.g. while developing)
NOTEBOOK = Path(os.environ.get("BAA_WIDGETS_NOTEBOOK") or ROOT / "notebooks" / "06-interactive.ipynb")
RUN_TIMEOUT_S = 420  # run-all at smoke profile, including a first smoke training if nothing is cached
UPDATE_TIMEOUT_MS = 60_000  # one app update: degrade, restore, predict (4 pipelines, one image)

# The notebook panel JupyterLab shows, through window.jupyterapp (LabApp.expose_app_in_browser).
_PANEL = "window.jupyterapp && window.jupyterapp.shell.currentWidget"

# Run every cell; resolve with the error outputs (nbformat JSON) once the kernel is idle again.
_RUN_ALL_JS = """async (timeoutMs) => {
  const app = window.jupyterapp, panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  const run = app.commands.execute('notebook:run-all-cells');
  const timer = new Promise((_, fail) => setTimeout(() => fail(new Error('run-all timed out')), timeoutMs));
  await Promise.race([run, timer]);
  const cells = panel.context.model.toJSON().cells;
  return cells.flatMap((c, i) => (c.outputs || []).filter(o => o.output_type === 'error')
                                    .map(o => `cell ${i}: ${o.ename}: ${o.evalue}`));
}"""

# A fingerprint of what the images show: a hash over the decoded pixels of every .baa-image.
_IMAGES_JS = """async () => {
  const imgs = Array.from(document.querySelectorAll('img.baa-image, .baa-image img'));
  const out = [];
  for (const img of imgs) {
    if (!img.complete || img.naturalWidth === 0) { try { await img.decode(); } catch (e) {} }
    if (img.naturalWidth === 0) { out.push('empty'); continue; }
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < px.length; i += 1) { h = Math.imul(h ^ px[i], 16777619) >>> 0; }
    out.push(`${c.width}x${c.height}:${h.toString(16)}`);
  }
  return out;
}"""


# "BoNet+_CQ: 9.48 y": one pipeline's predicted age in the readout (the true age reads "true 8.84 y")
_AGE = re.compile(r"([\w+.-]+):\s*(-?\d+(?:\.\d+)?)\s*y\b")


def _state(page) -> dict:
    text = page.locator(".baa-age-readout").first.inner_text().strip()
    return {"images": page.evaluate(_IMAGES_JS), "text": text, "ages": dict(_AGE.findall(text))}


def _wait_for_update(page, before: dict) -> dict:
    """Poll until the app has redrawn after a move: the images and the readout's text (which names
    the settings) differ from ``before``. Returns the new state, or the last one on a timeout."""
    step = 500
    state = before
    for _ in range(UPDATE_TIMEOUT_MS // step):
        page.wait_for_timeout(step)
        state = _state(page)
        if state["images"] != before["images"] and state["text"] != before["text"]:
            return state
    return state


def _move_until_the_ages_change(page, css: str, what: str) -> tuple[str, dict, dict]:
    """Move the slider to its upper end and, if the ages stayed the same there, to its lower end (a
    smoke-profile BoNet+ can read two settings alike: one gave 9.48 y at 100 and at 10^4 photons,
    9.57 y at 10^0.5); fail unless the app redraws on each move and the ages change at one end.
    Returns (readout, state before, state after)."""
    before = _state(page)
    state = before
    for key in ("End", "Home"):
        readout = _move_slider(page, css, key)
        if readout is None:
            continue
        last, state = state, _wait_for_update(page, state)  # redrawn since the last move
        if state["text"] == last["text"]:
            pytest.fail(f"moving {what}: the app did not update within {UPDATE_TIMEOUT_MS / 1000:.0f} s")
        if state["images"] != before["images"] and state["ages"] != before["ages"]:
            return readout, before, state
    pytest.fail(f"moving {what} to either end {'changed' if state['images'] != before['images'] else 'did not change'} "
                f"the images but no predicted age: {before['ages']} -> {state['ages']} (readout {state['text']!r}); "
                "models that predict the same age for every input (e.g. undertrained at this profile) cannot "
                "respond to the degradation")


def _move_slider(page, css: str, key: str = "End") -> str:
    """Move the noUiSlider handle of the slider with class ``css`` with the keyboard, as a reader
    would (``End``: its upper end, ``Home``: its lower end); returns the readout after the move, or
    None when the handle is at that end already.
    Upwards first: more photons and a larger label keep the hand visible."""
    handle = page.locator(f".{css} .noUi-handle").first
    handle.scroll_into_view_if_needed()
    now, end = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax" if key == "End" else "aria-valuemin"))
    if now == end:
        return None  # there already
    handle.focus()
    handle.press(key)
    return page.locator(f".{css} .widget-readout").first.inner_text().strip()


@pytest.fixture(scope="module")
def lab_notebook(tmp_path_factory):
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.relative_to(ROOT) if NOTEBOOK.is_relative_to(ROOT) else NOTEBOOK} "
                    "not written yet")
    return NOTEBOOK


def test_sliders_update_image_and_age(lab_notebook, jupyterlab, page, screenshot_dir):
    # the jupyterlab fixture serves a copy of notebooks/; put the notebook under test there
    target = jupyterlab["root"] / "notebooks" / lab_notebook.name
    if lab_notebook.resolve() != (ROOT / "notebooks" / lab_notebook.name).resolve():
        shutil.copy(lab_notebook, target)
    shots = screenshot_dir / "widgets"
    shots.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1600, "height": 1100})
    page.goto(f"{jupyterlab['url']}lab/tree/notebooks/{lab_notebook.name}?token={jupyterlab['token']}")
    page.wait_for_function(f"() => {_PANEL} && {_PANEL}.sessionContext && {_PANEL}.content", timeout=90_000)

    errors = page.evaluate(_RUN_ALL_JS, RUN_TIMEOUT_S * 1000)
    assert not errors, "the notebook raised:\n  " + "\n  ".join(errors) + f"\n(server log: {jupyterlab['log']})"

    app = page.locator(".baa-app").first
    try:
        app.wait_for(state="attached", timeout=30_000)
        app.evaluate("el => el.scrollIntoView({block: 'start'})")
        page.locator(".baa-photons .noUi-handle").first.wait_for(state="visible", timeout=30_000)
        page.wait_for_function("() => /\\d/.test(document.querySelector('.baa-age-readout').innerText)",
                               timeout=30_000)
    except Exception:
        page.screenshot(path=str(shots / "failed-no-app.png"))
        raise
    # kind "all" keeps both sliders live; other kinds grey one of them out
    if page.locator(".baa-label-size.mod-disabled, .baa-photons.mod-disabled").count():
        page.locator(".baa-kind button", has_text="all").first.click()
        page.wait_for_timeout(500)
    start = _state(page)
    # the degraded input is always drawn (the first .baa-image); restorations need CQ / DQ pipelines
    assert start["images"] and start["images"][0] != "empty", f"app images not drawn: {start['images']}"
    assert start["ages"], f"no predicted age in the readout: {start['text']!r}"
    page.evaluate("() => window.jupyterapp.shell.collapseLeft && window.jupyterapp.shell.collapseLeft()")
    app.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(shots / "0-start.png"))

    for i, (css, what) in enumerate((("baa-photons", "the photon number"), ("baa-label-size", "the label size")), 1):
        readout, before, after = _move_until_the_ages_change(page, css, what)
        print(f"{what} -> {readout}: ages {before['ages']} -> {after['ages']}")
        page.wait_for_timeout(300)
        app.evaluate("el => el.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(shots / f"{i}-{css.removeprefix('baa-')}.png"))

    # nothing the lab shows should reach for the internet
    outside = page.watch.external_requests
    assert not outside, f"JupyterLab requested {outside[:5]}"
    assert not page.watch.page_errors, f"JavaScript errors: {page.watch.page_errors}"
