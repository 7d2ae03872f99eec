"""Real-browser check of the explorer (``make browser-test``; ``.ci/run`` calls it after ``make test``).

Headless Chromium from the system packages, driven by Playwright's Python API, against
(1) JupyterLab: open notebooks/00_explore.ipynb, run all cells, check that the widgets render and that
changing the metric dropdown redraws the table; (2) the Voilà page: the same checks. Screenshots go to
``$BROWSER_SHOTS`` (``make browser-test``: the git-ignored ``.browser-test/``), so a check leaves ``git status``
clean; ``make screenshots`` writes them to figures/explore/, where the README shows them. Not collected by
pytest (no test_ prefix): it starts servers and needs Chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Where the screenshots go: a browser's pixels differ from run to run, so the tracked ones in figures/explore/
#: are rewritten only on purpose (``make screenshots``), never by a check.
SHOTS = Path(os.environ.get("BROWSER_SHOTS") or REPO / ".browser-test").resolve()
CHROMIUM = Path("/usr/bin/chromium")
#: Chromium as root, offline: no sandbox, no GPU, nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 180_000


def ensure_chromium() -> Path:
    """The system Chromium, installed with apt when missing (Playwright's own download is not used)."""
    if not CHROMIUM.exists():
        print("browser-test: installing chromium with apt-get", flush=True)
        if subprocess.run(["apt-get", "install", "-y", "chromium"], check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], check=True)
            subprocess.run(["apt-get", "install", "-y", "chromium"], check=True)
    if not CHROMIUM.exists():
        sys.exit(f"browser-test: no {CHROMIUM} after apt-get install chromium")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(cmd: list[str], url: str, log: Path) -> Iterator[None]:
    """Start a server, wait until ``url`` answers, and always stop it (its whole process group)."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "MPLBACKEND": "Agg",
        "UNLEARN_PROGRESS": "0",
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    sys.exit(f"browser-test: {cmd[2]} did not start; its log:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def table_text(page) -> str:
    return page.locator("table.explore-table").first.inner_text(timeout=TIMEOUT_MS)


def check_widgets(page, where: str, shot: Path) -> None:
    """The tabs and the Screen table render; choosing another metric redraws the table."""
    page.locator("table.explore-table").first.wait_for(state="visible", timeout=TIMEOUT_MS)
    for tab in ("Screen", "Contrast", "Attack", "Segmentation", "GAN"):
        label = page.locator(".lm-TabBar-tabLabel", has_text=tab)
        assert label.count() and label.first.is_visible(), f"{where}: no {tab} tab"
    assert page.locator(".widget-image img, img.widget-image").first.is_visible(), f"{where}: the cost scatter did not render"
    before = table_text(page)
    page.add_style_tag(content=".Toastify { display: none !important; }")  # JupyterLab's news prompt, over the output
    page.wait_for_timeout(1000)  # let the scatter draw before the screenshot
    page.screenshot(path=str(shot), full_page=True)
    metric = page.locator(".widget-dropdown", has=page.locator("label", has_text="metric")).first.locator("select")
    assert metric.input_value() == "accuracy", f"{where}: metric starts at {metric.input_value()!r}"
    metric.select_option("loss")
    deadline = time.time() + 60
    while table_text(page) == before:
        if time.time() > deadline:
            raise AssertionError(f"{where}: the table did not change after choosing metric 'loss'")
        page.wait_for_timeout(250)
    page.wait_for_timeout(1000)  # let the scatter redraw before the screenshot
    changed = shot.with_name(f"{shot.stem}-metric-loss.png")
    page.screenshot(path=str(changed), full_page=True)
    print(f"browser-test: {where}: widgets render and the table redraws; screenshots {shot.name}, {changed.name}", flush=True)


def checked(page, where: str, shot: Path) -> None:
    """:func:`check_widgets`, leaving a ``*-failed.png`` screenshot beside the others when it fails."""
    try:
        check_widgets(page, where, shot)
    except Exception:
        page.screenshot(path=str(shot.with_name(shot.stem + "-failed.png")), full_page=True)
        raise


def jupyterlab(browser, logs: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1"]
    cmd += [
        "--ServerApp.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={REPO}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with server(cmd, f"http://127.0.0.1:{port}/api", logs / "jupyterlab.log"):
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/00_explore.ipynb", timeout=TIMEOUT_MS)
        page.locator(".jp-Notebook").first.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(3000)  # the kernel starts
        with contextlib.suppress(Exception):  # JupyterLab's news prompt, over the output otherwise
            page.get_by_role("button", name="No").click(timeout=5000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        checked(page, "JupyterLab", SHOTS / "jupyterlab.png")
        page.close()


def voila(browser, logs: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "voila", "notebooks/00_explore.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    with server(cmd, f"http://127.0.0.1:{port}/", logs / "voila.log"):
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", timeout=TIMEOUT_MS)
        checked(page, "Voilà", SHOTS / "voila.png")
        page.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    exe = ensure_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="browser-test-"))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                user_data_dir=str(tmp / "profile"),
                executable_path=str(exe),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                only = sys.argv[1:] or ["lab", "voila"]
                if "lab" in only:
                    jupyterlab(browser, tmp)
                if "voila" in only:
                    voila(browser, tmp)
            finally:
                browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("browser-test: ok", flush=True)


if __name__ == "__main__":
    main()
