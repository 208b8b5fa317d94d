"""The HTML book in a real browser: every page loads without a JavaScript error, every image and
figure is drawn, every link inside the book resolves, math is typeset, and nothing is fetched from
outside localhost (the book must read offline).

The book is ``_build/html``, built by the ``book_html`` fixture when it is missing or stale.
Pages are the TOC's (``book/_toc.yml``) plus whatever else was built, so chapters still being
written are skipped (no source yet) rather than failed. Screenshots: ``screenshots/book/``.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

from browser_helpers import BOOK_HTML, ROOT, is_local

pytestmark = pytest.mark.browser

SKIP_PAGES = {"genindex", "search"}  # Sphinx's generated index and search pages
STATIC_LIMIT = 2 * 1024 * 1024  # bytes; vendored assets in book/_static
# Known, harmless upstream errors, matched exactly. sphinx-thebe 0.3 registers its inline config
# with app.add_js_file(None, body=...) after the builder started, and Sphinx 7.4's
# prepare_writing adds registry scripts again as filename '' (!= None), so every page carries
# `const THEBE_JS_URL = ...` twice; the second throws and nothing is lost (thebe is off here).
KNOWN_JS_ERRORS = (re.compile(r"^Identifier 'THEBE_JS_URL' has already been declared$"),)


def toc_docnames() -> list[str]:
    """Document names of ``book/_toc.yml`` in reading order (root first)."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(str(node["file"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb)$", "", n) for n in dict.fromkeys(names)]


def built_docnames() -> list[str]:
    if not BOOK_HTML.exists():
        return []
    out = []
    for p in sorted(BOOK_HTML.rglob("*.html")):
        rel = p.relative_to(BOOK_HTML)
        if rel.parts[0].startswith("_") or rel.stem in SKIP_PAGES or rel.as_posix() == "index.html":
            continue
        out.append(rel.with_suffix("").as_posix())
    return out


def source_of(doc: str) -> Path | None:
    """The file a page is built from, if it exists yet (a chapter's notebook lives in notebooks/)."""
    name = Path(doc).name
    for p in (ROOT / "book" / f"{doc}.md", ROOT / "book" / f"{doc}.ipynb", ROOT / "notebooks" / f"{name}.ipynb"):
        if p.exists():
            return p
    return None


PAGES = list(dict.fromkeys(toc_docnames() + built_docnames()))


# -- checks run inside the page -----------------------------------------------------------------

_IMAGES_JS = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
  })));
  return imgs.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth, complete: img.complete,
                           output: !!img.closest('figure, .cell_output, .output')}));
}"""

_FIGURES_JS = """() => Array.from(document.querySelectorAll('figure, .cell_output img, .cell_output svg')).map(el => {
  const drawn = el.matches('img, svg') ? [el] : Array.from(el.querySelectorAll('img, svg, canvas, object'));
  return {what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''),
          drawn: drawn.length > 0 && drawn.every(d => d.tagName.toLowerCase() !== 'img' || d.naturalWidth > 0)};
})"""

_MATH_DONE_JS = """() => Array.from(document.querySelectorAll('.math')).every(m => m.querySelector('mjx-container'))"""


class _Fetch:
    """Same-origin GETs, cached across pages: status and, for HTML, the ids it defines."""

    def __init__(self):
        self.cache: dict[str, tuple[int, set[str] | None]] = {}

    def __call__(self, url: str) -> tuple[int, set[str] | None]:
        if url not in self.cache:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
            except urllib.error.HTTPError as e:
                status, body, ctype = e.code, b"", ""
            ids = None
            if "html" in ctype:
                text = body.decode("utf-8", "replace")
                ids = set(re.findall(r'\s(?:id|name)="([^"]+)"', text))
            self.cache[url] = (status, ids)
        return self.cache[url]


_fetch = _Fetch()


def check_page(page, url: str, shot: Path) -> dict:
    """Load ``url`` and return the list of problems plus a few counts."""
    watch = page.watch
    watch.clear()
    problems: list[str] = []
    resp = page.goto(url, wait_until="load")
    if resp is None or resp.status != 200:
        problems.append(f"page answered {resp.status if resp else 'nothing'}")
    page.wait_for_load_state("networkidle")

    has_math = page.locator(".math").count() > 0
    if has_math:
        try:
            page.wait_for_function(_MATH_DONE_JS, timeout=30_000)
        except Exception:  # noqa: BLE001 - reported below as a problem
            problems.append("math not typeset by MathJax within 30 s")
        errs = page.locator("mjx-merror").count()
        if errs:
            problems.append(f"{errs} MathJax error(s) (mjx-merror)")

    images = page.evaluate(_IMAGES_JS)
    for img in images:
        svg = urlsplit(img["src"]).path.endswith(".svg")
        if not img["complete"] or (img["width"] == 0 and not svg):
            problems.append(f"broken image {img['src'][:120]}")
    figures = page.evaluate(_FIGURES_JS)
    problems += [f"figure not rendered: {f['what']}" for f in figures if not f["drawn"]]

    # every same-origin link resolves (and its #fragment exists in the target page)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    links = 0
    for href in dict.fromkeys(hrefs):
        if not href.startswith(origin + "/"):
            continue
        target, _, frag = href.partition("#")
        status, ids = _fetch(target)
        links += 1
        if status != 200:
            problems.append(f"broken link {href} ({status})")
        elif frag and ids is not None and unquote(frag) not in ids:
            problems.append(f"broken anchor {href}")

    page.wait_for_timeout(200)  # let late console messages arrive
    problems += [f"JavaScript error: {e}" for e in watch.page_errors if not any(k.match(e) for k in KNOWN_JS_ERRORS)]
    problems += [f"console error: {e}" for e in watch.console_errors]
    problems += [f"HTTP {e}" for e in watch.bad_responses]
    problems += [f"request failed: {e}" for e in watch.failed_requests]
    problems += [f"request left localhost: {u}" for u in watch.external_requests]

    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    return {"problems": problems, "images": len(images), "figures": len(figures), "links": links,
            "math": has_math, "requests": len(watch.requests)}


# -- tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", PAGES)
def test_page(doc, book_html, book_server, page, screenshot_dir):
    html = book_html / f"{doc}.html"
    if not html.exists():
        if source_of(doc) is None:
            pytest.skip(f"{doc}: no source yet (chapter not written), so no page")
        pytest.fail(f"{doc} has a source ({source_of(doc).relative_to(ROOT)}) but no page {html}")
    result = check_page(page, urljoin(book_server, f"{doc}.html"), screenshot_dir / "book" / f"{doc.replace('/', '__')}.png")
    print(f"{doc}: {result['images']} images, {result['figures']} figures, {result['links']} internal links, "
          f"{result['requests']} requests, math={result['math']}")
    assert not result["problems"], f"{doc}.html:\n  " + "\n  ".join(result["problems"])


def test_index_opens_the_first_page(book_html, book_server, page):
    page.goto(book_server, wait_until="load")
    page.wait_for_load_state("networkidle")
    first = toc_docnames()[0]
    assert page.url.endswith(f"{first}.html"), f"{book_server} led to {page.url}, not {first}.html"
    assert not page.watch.external_requests


class _ExternalAssets(HTMLParser):
    """Collects URLs a browser would load by itself (scripts, stylesheets, images, frames...)."""

    LOADED_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut", "manifest",
                   "apple-touch-icon", "preconnect", "dns-prefetch"}
    SRC_TAGS = {"script", "img", "iframe", "source", "video", "audio", "embed", "track", "input"}

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        urls = []
        if tag in self.SRC_TAGS:
            urls += [a.get("src"), *(s.split()[0] for s in (a.get("srcset") or "").split(",") if s.strip())]
        if tag == "link" and self.LOADED_RELS & set((a.get("rel") or "").lower().split()):
            urls.append(a.get("href"))
        if tag == "object":
            urls.append(a.get("data"))
        for u in urls:
            if u and re.match(r"^(https?:)?//", u.strip()) and not is_local(urljoin("http://x/", u.strip())):
                self.found.append(f"<{tag}> {u.strip()}")


def test_html_loads_nothing_from_the_internet(book_html):
    """Static scan of every built page and stylesheet for absolute http(s) assets (CDN MathJax,
    require.js, the widgets' html-manager, web fonts): the book must read offline."""
    offenders = []
    for p in sorted(book_html.rglob("*.html")):
        parser = _ExternalAssets()
        parser.feed(p.read_text(errors="replace"))
        offenders += [f"{p.relative_to(book_html)}: {f}" for f in parser.found]
    for p in sorted(book_html.glob("_static/**/*.css")):
        for u in re.findall(r"""(?:url\(\s*['"]?|@import\s+['"])((?:https?:)?//[^'")\s]+)""", p.read_text(errors="replace")):
            offenders.append(f"{p.relative_to(book_html)}: {u}")
    assert not offenders, "the book references assets outside localhost:\n  " + "\n  ".join(offenders[:40])


def test_vendored_static_assets_are_small():
    total = sum(p.stat().st_size for p in (ROOT / "book" / "_static").rglob("*") if p.is_file())
    assert total < STATIC_LIMIT, f"book/_static holds {total / 2**20:.2f} MiB (limit {STATIC_LIMIT / 2**20:.0f} MiB)"
