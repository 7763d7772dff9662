"""The committed console build matches web/ (same hash as web/scripts/source-hash.mjs) and is served safely."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.console.service import STATIC_DIR
from tests.conftest import ROOT

WEB = ROOT / "web"
INPUTS = ["index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src", "public"]


def source_hash() -> str:
    """Python twin of web/scripts/source-hash.mjs."""
    files = []
    for name in INPUTS:
        path = WEB / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file()]
    rels = sorted(p.relative_to(WEB).as_posix() for p in files)
    rels = [r for r in rels if not r.endswith(".test.ts")]
    digest = hashlib.sha256()
    for rel in rels:
        digest.update(rel.encode() + b"\0")
        digest.update((WEB / rel).read_bytes().decode("utf-8").replace("\r\n", "\n").encode())
        digest.update(b"\0")
    return digest.hexdigest()


def test_committed_bundle_is_built_from_current_sources() -> None:
    stored = (STATIC_DIR / "source-hash.txt").read_text().strip()
    assert stored == source_hash(), "server/console/static is stale: run `make console` and commit the build"


def test_index_references_only_files_that_exist() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert any(r.endswith(".js") for r in refs) and any(r.endswith(".css") for r in refs)
    for ref in refs:
        assert (STATIC_DIR / ref).is_file(), ref


# Every API that parses a string as HTML: the DOM's, Leaflet's (tooltips, popups, div icons take a string as HTML)
# and Chart.js's HTML tooltips (``external``). Chart.js draws labels, legends and titles on a canvas: text only.
HTML_SINKS = [r"\.innerHTML\b", r"\.outerHTML\b", r"insertAdjacentHTML", r"document\.write", r"DOMParser",
              r"createContextualFragment", r"srcdoc", r"\.bindTooltip\(", r"\.bindPopup\(", r"\.setTooltipContent\(",
              r"\.setPopupContent\(", r"\.setContent\(", r"L\.popup\(", r"L\.tooltip\(", r"\bdivIcon\(",
              r"\bexternal\s*:"]
# The only way in: map.ts's helpers, typed to take a DOM node (HTMLElement), never a string.
ALLOWED = {("map.ts", "layer.bindTooltip(content, options);"), ("map.ts", "layer.setTooltipContent(content);"),
           ("map.ts", "return L.divIcon({ ...options, html: content });")}


def test_no_string_reaches_an_html_sink() -> None:
    """Issue 25: a technician's name given to Leaflet's bindTooltip as a string ran as script. User text is never
    markup: the console builds DOM with h() (text nodes) and hands Leaflet only nodes."""
    hits = []
    for path in sorted((WEB / "src").rglob("*.ts")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(re.search(sink, line) for sink in HTML_SINKS) and (path.name, line.strip()) not in ALLOWED:
                hits.append(f"{path.relative_to(WEB)}:{number}: {line.strip()}")
    assert not hits, "strings into HTML sinks (pass a node built with h(), or use map.ts's nodeTooltip/nodeIcon):\n" \
        + "\n".join(hits)


def test_console_is_served_and_static_paths_are_contained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path, load_city=False))
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<div id=\"app\">" in page.text
        asset = re.search(r'src="(/static/assets/[^"]+\.js)"', page.text)
        assert asset and client.get(asset.group(1)).status_code == 200
        assert client.get("/static/../router.py").status_code == 404
        assert client.get("/static/%2e%2e/router.py").status_code == 404
        assert client.get("/static/nothing.js").json()["detail"] == "static file 'nothing.js' not found"
        assert client.get("/map/streets").status_code == 401
        assert client.get("/console/inbox").status_code == 401


def test_the_event_stream_fallback_listens_for_every_event_type_the_server_publishes() -> None:
    """Server-sent events are named by their full type ("job.status"), and an EventSource hears only the names it
    listens for: a type missing from EVENT_TYPES never reaches the console when the WebSocket is unavailable."""
    published = set()
    for path in (ROOT / "server").rglob("*.py"):
        published |= set(re.findall(r'make_event\(\s*"([a-z_]+\.[a-z_.]+)"', path.read_text(encoding="utf-8")))
    listened = set(re.findall(r'"([a-z_]+\.[a-z_.]+)"', (WEB / "src" / "events.ts").read_text(encoding="utf-8")))
    assert published and published <= listened, f"add to EVENT_TYPES in web/src/events.ts: {published - listened}"
