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
    # No HTML is built from strings in the sources: customers' text only ever becomes text nodes.
    for path in (WEB / "src").rglob("*.ts"):
        assert "innerHTML" not in path.read_text(), path


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
