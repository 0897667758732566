"""A real browser: JupyterLab renders an erts_kit explorer, a slider moves, the Output updates.

Headless Debian Chromium driven by Playwright (no browser download). Uses ``notebooks/07_*.ipynb``
when it exists, else the fixture ``tests/nb_fixtures/05_widgets_demo.ipynb``, with ``SMOKE=True``
injected by papermill (prepare only); JupyterLab's Run > Run All Cells executes it. Skipped only when
chromium or the playwright package is missing (CI installs both: ``apt-get install -y chromium``,
``pip install playwright``).
"""
from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _nbutil import FIXTURE_DIR, NOTEBOOK_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def _missing() -> list[str]:
    missing = []
    if shutil.which("chromium") is None:
        missing.append("chromium (the Debian browser; install with: apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (the Python package; install with: pip install playwright)")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _widget_notebook() -> Path:
    found = sorted(NOTEBOOK_DIR.glob("07_*.ipynb"))
    return found[0] if found else FIXTURE_DIR / "05_widgets_demo.ipynb"


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on 127.0.0.1 with a random token, serving a tmp folder holding the widget notebook."""
    root = tmp_path / "root"
    root.mkdir()
    import papermill

    src = _widget_notebook()
    nb = root / src.name      # SMOKE=True injected after the parameters cell, nothing executed
    papermill.execute_notebook(str(src), str(nb), parameters={"SMOKE": True}, prepare_only=True, progress_bar=False)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    with open(tmp_path / "jupyterlab.log", "w") as log:
        yield from _serve(root, nb.name, env, log, tmp_path)


def _serve(root, name, env, log, tmp_path):
    """Start JupyterLab, wait until it answers, yield the notebook URL, stop it."""
    port, token = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--ip", "127.0.0.1", "--port", str(port), "--no-browser",
         f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if getattr(os, "geteuid", lambda: 1)() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield f"{base}/lab/tree/{name}?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _outputs_text(page) -> str:
    return "\n".join(page.locator(".widget-output").all_inner_texts())


@pytest.mark.skipif(bool(_missing()), reason="missing: " + "; ".join(_missing()))
def test_slider_moves_and_the_output_updates(jupyterlab, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                _drive(page, jupyterlab)
            except (PlaywrightError, AssertionError) as exc:
                shot = tmp_path / "failure.png"
                page.screenshot(path=str(shot), full_page=True)
                cells = page.locator(".jp-OutputArea-output").all_inner_texts()
                pytest.fail(f"{type(exc).__name__}: {exc}\nscreenshot: {shot}\ncell outputs:\n"
                            + "\n".join(cells)[-3000:], pytrace=False)
        finally:
            browser.close()


def _drive(page, url: str) -> None:
    """Open the notebook, Run > Run All Cells, move a slider with the keyboard, see the Output change."""
    page.goto(url)
    page.locator(".jp-Notebook").wait_for(timeout=30_000)
    # The status bar reads "No Kernel | Initializing", then "Python 3 (ipykernel) | Idle" once connected.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        ".some(e => /\\| Idle$/.test(e.innerText.trim()) && !e.innerText.startsWith('No Kernel'))", timeout=60_000)
    # Run > Run All Cells
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Run All Cells")).first.click()
    # JupyterLab may ask which kernel to use (a race between opening and running): accept its choice.
    deadline = time.monotonic() + 120
    slider, accept = page.locator(".widget-slider").first, page.locator(".jp-Dialog .jp-mod-accept")
    while not slider.is_visible():
        if accept.is_visible():
            accept.click()
        if time.monotonic() > deadline:
            raise AssertionError("no .widget-slider rendered within 120 s of Run All Cells")
        page.wait_for_timeout(250)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-output')].some(e => e.innerText.trim().length > 0)",
        timeout=30_000)
    before = _outputs_text(page)
    moved = False
    for slider in page.locator(".widget-slider").all():
        readout = slider.locator(".widget-readout")
        old = readout.inner_text()
        handle = slider.locator(".noUi-handle")
        handle.focus()
        for key in ("ArrowRight", "ArrowLeft", "ArrowLeft"):
            handle.press(key)
            if readout.inner_text() != old:
                moved = True
                break
        if moved:
            break
    assert moved, "no slider reacted to the arrow keys"
    page.wait_for_function(
        "(old) => [...document.querySelectorAll('.widget-output')].map(e => e.innerText).join('\\n') !== old"
        " && ![...document.querySelectorAll('.widget-output')].every(e => e.innerText.trim() === '')",
        arg=before, timeout=30_000)
    after = _outputs_text(page)
    assert after != before
    assert "erts_kit widget callback error" not in after and "Traceback" not in after
