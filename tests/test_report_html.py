"""The HTML report: one self-contained page (no URL, no script, every inline SVG parses, tables that sum
to 100 %), and the same page rendered in headless Chromium: not blank, every figure drawn, and no request
leaves the page (the browser test skips, with the reason, where no Chromium is installed)."""
from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pimtrain.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The report of a short training run (`train --report`) and of `reproduce all`, made by the CLI."""
    d = tmp_path_factory.mktemp("report")
    train = d / "train.html"
    res = runner.invoke(app, ["train", "--design", "marinella2018-analog", "--dataset", "digits", "--epochs", "1",
                              "--report", str(train), "--json", "--output", str(d / "train.json")])
    assert res.exit_code == 0, res.output
    repro = d / "reproduce.html"
    res = runner.invoke(app, ["report", "--reproduce", "all", "-o", str(repro)])
    assert res.exit_code == 0, res.output
    design = d / "design.html"
    res = runner.invoke(app, ["report", "--design", "marinella2018-analog-taox", "-w", "mlp:64-36-10", "-o", str(design),
                              "--figures", str(d / "figs")])
    assert res.exit_code == 0, res.output
    compare = d / "compare.html"
    res = runner.invoke(app, ["report", "--designs", "marinella2018-analog,marinella2018-sram", "-w", "mlp:256-10",
                              "-o", str(compare)])
    assert res.exit_code == 0, res.output
    return {"train": train, "reproduce": repro, "train_json": d / "train.json", "design": design, "compare": compare,
            "figs": d / "figs"}


MIN_FIGURES = {"train": 3, "reproduce": 4, "design": 2, "compare": 1}


class _Tables(html.parser.HTMLParser):
    """Every table as its header and rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._row = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"rows": []})
        elif tag == "tr":
            self._row = {"cells": [], "total": ("class", "total") in attrs}
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _svgs(text: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", text, flags=re.S)


@pytest.mark.parametrize("kind", ["train", "reproduce", "design", "compare"])
def test_page_is_self_contained(pages, kind):
    text = pages[kind].read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for bad in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "@font-face"):
        assert bad not in text.lower(), bad
    # no URL anywhere but the SVG namespace names (identifiers that are never fetched)
    urls = set(re.findall(r"(?:https?|ftp)://[^\s\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    for m in re.finditer(r"\b(?:href|src)\s*=\s*\"([^\"]*)\"", text):
        assert m.group(1).startswith("#"), m.group(0)  # only references inside the page
    assert not re.search(r"url\((?!#)", text)
    assert "pimtrain " in text and "torch" in text  # the command and the versions


@pytest.mark.parametrize("kind", ["train", "reproduce", "design", "compare"])
def test_every_svg_parses(pages, kind):
    text = pages[kind].read_text(encoding="utf-8")
    svgs = _svgs(text)
    assert len(svgs) == text.count('<figure class="fig">') >= MIN_FIGURES[kind]
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert float(root.get("width").rstrip("pt")) > 100 and float(root.get("height").rstrip("pt")) > 100
        assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 20  # something is drawn


def test_share_columns_sum_to_100(pages):
    parser = _Tables()
    parser.feed(pages["train"].read_text(encoding="utf-8"))
    checked = 0
    for t in parser.tables:
        header = t["rows"][0]["cells"]
        for i, h in enumerate(header):
            if h.startswith("share of"):
                values = [float(r["cells"][i].rstrip(" %")) for r in t["rows"][1:] if not r["total"]]
                assert sum(values) == pytest.approx(100.0, abs=1e-6), (header, values)
                checked += 1
    assert checked == 4  # energy and latency by kernel, energy and area by component


def test_design_page_shows_provenance_and_png_copies(pages):
    text = pages["design"].read_text(encoding="utf-8")
    assert "provenance" in text and "package:devices/taox_1" in text and "device response" in text.lower()
    pngs = sorted(p.name for p in pages["figs"].iterdir())
    assert pngs == ["cost_marinella2018-analog-taox.png", "device_marinella2018-analog-taox.png"]
    assert all((pages["figs"] / n).read_bytes()[:4] == b"\x89PNG" for n in pngs)


def test_train_json_that_is_not_a_run_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"epochs": []}')
    res = runner.invoke(app, ["report", "--train-json", str(bad), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "--train-json" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_train_report_matches_the_run(pages):
    result = json.loads(pages["train_json"].read_text())
    text = pages["train"].read_text(encoding="utf-8")
    assert f"{100 * result['final_test_accuracy']:.2f} %" in text
    assert "float reference" in text and result["run"]["network"] in text


# ------------------------------------------------------------------------------------------ browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): the
    page's own network requests are the ``Network.requestWillBeSent`` events of its tab, so the browser's
    background traffic is not mistaken for the page's. A dead proxy keeps anything from leaving."""

    def __init__(self, exe: str, profile: Path):
        import os

        self._to_r, self._to_w = os.pipe()
        self._from_r, self._from_w = os.pipe()
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               "--proxy-server=http://127.0.0.1:9", f"--user-data-dir={profile}", "--remote-debugging-pipe",
               "about:blank"]
        def pipe_fds():  # the protocol's fixed descriptors: 3 = commands in, 4 = replies out
            import fcntl

            a, b = fcntl.fcntl(self._to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(self._from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._log = open(profile / "chromium.log", "w+b")  # a file, not a pipe: a full pipe would stall Chromium
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
                                     pass_fds=(3, 4), preexec_fn=pipe_fds)
        os.close(self._to_r)
        os.close(self._from_w)
        self._out = os.fdopen(self._to_w, "wb", buffering=0)
        self._in = os.fdopen(self._from_r, "rb", buffering=0)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, timeout: float = 60.0) -> dict:
        import select

        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._in], [], [], timeout)
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = self._in.read(1 << 16)
            if not chunk:
                self._log.seek(0)
                raise EOFError("Chromium closed the pipe: " + self._log.read().decode(errors="replace")[-300:])
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self._out.write(json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read(timeout)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def open(self, url: str, width: int = 1000) -> str:
        """Load ``url`` in a new tab (network events recorded from the start); returns the session id."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Network.enable", session)
        self.call("Page.enable", session)
        self.call("Emulation.setDeviceMetricsOverride", session, width=width, height=1200, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired")
        return session

    def requests(self, session: str) -> list[str]:
        return [ev["params"]["request"]["url"] for ev in self.events
                if ev.get("method") == "Network.requestWillBeSent" and ev.get("sessionId") == session]

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - already gone
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()
        self._in.close()
        self._log.close()


_FIGURES = """JSON.stringify((function () {
  var figs = Array.from(document.querySelectorAll('figure.fig'));
  var drawn = figs.filter(function (f) { var s = f.querySelector('svg'); if (!s) return false;
    var r = s.getBoundingClientRect(); return r.width > 100 && r.height > 100 && s.querySelectorAll('path').length > 20; });
  return {figures: figs.length, drawn: drawn.length, height: document.documentElement.scrollHeight,
          resources: performance.getEntriesByType('resource').map(function (e) { return e.name; })};
})())"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium installed (.ci/run installs Debian's 'chromium' package where apt-get can)")
    try:
        b = _Browser(exe, tmp_path_factory.mktemp("chromium-profile"))
        b.call("Browser.getVersion")
    except (OSError, EOFError, TimeoutError, RuntimeError) as exc:
        pytest.skip(f"Chromium could not start here: {exc}")
    yield b
    b.close()


def test_browser_check_sees_a_network_request(browser, tmp_path):
    """The harness itself: a page that loads an image from the network is caught."""
    page = tmp_path / "leak.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/a.png"></body></html>')
    session = browser.open(page.resolve().as_uri())
    assert any(u.startswith("http://example.invalid/") for u in browser.requests(session))


@pytest.mark.parametrize("kind", ["train", "reproduce", "design", "compare"])
def test_page_in_headless_chromium(pages, kind, browser, tmp_path):
    import base64

    import matplotlib.image

    url = pages[kind].resolve().as_uri()
    session = browser.open(url)
    probe = json.loads(browser.call("Runtime.evaluate", session, expression=_FIGURES, returnByValue=True)["result"]["value"])
    assert probe["figures"] >= MIN_FIGURES[kind]
    assert probe["drawn"] == probe["figures"], probe  # every figure loaded and drawn at a real size
    assert probe["resources"] == [], probe["resources"]
    assert probe["height"] > 1500
    requests = [u for u in browser.requests(session) if u != url]
    assert requests == [], requests  # the page asks nothing of the network (nor of the disk)
    shot = browser.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)["data"]
    path = tmp_path / f"{kind}.png"
    path.write_bytes(base64.b64decode(shot))
    img = matplotlib.image.imread(str(path))[..., :3]
    assert img.shape[1] == 1000 and img.shape[0] >= 1500
    ink = (img.mean(axis=2) < 0.9).mean()
    assert ink > 0.03, f"page looks blank: {ink:.3%} of the pixels are not white"
