"""Jupyter: a Scene displays as the inline page (iframe srcdoc) with a PNG beside it; the example runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from render3d.notebook import iframe, in_notebook

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "share.ipynb"


def test_iframe_carries_the_page_escaped_in_srcdoc_with_scripts_only():
    assert iframe('<p class="x">a & b</p>', height=300) == (
        '<iframe srcdoc="&lt;p class=&quot;x&quot;&gt;a &amp; b&lt;/p&gt;" sandbox="allow-scripts" '
        'style="width: 100%; height: 300px; border: 0;" title="render3d scene"></iframe>'
    )


def test_plain_python_is_not_a_notebook_and_import_render3d_does_not_import_ipython():
    code = (
        "import sys, render3d; from render3d.notebook import in_notebook; "
        "print(in_notebook(), 'IPython' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert in_notebook() is False  # pytest: no kernel either


def test_example_notebook_executes_and_shows_the_scene_inline(tmp_path):
    nb = nbformat.read(EXAMPLE, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o for o in nb.cells[3].outputs if o.output_type == "execute_result"]
    assert len(shown) == 1
    data = shown[0].data
    assert data["text/html"].startswith('<iframe srcdoc="&lt;!doctype html&gt;')
    assert "window.render3d" in data["text/html"] and "SeedCNN" in data["text/html"]
    assert data["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature
    printed = "".join(o.get("text", "") for o in nb.cells[5].outputs)
    assert printed.startswith("seedcnn.html: ") and " MB, seedcnn.glb: " in printed
    shown = [o for o in nb.cells[7].outputs if o.output_type == "display_data"]  # render3d.show: inline, no window
    assert len(shown) == 1 and shown[0].data["text/html"].startswith('<iframe srcdoc="&lt;!doctype html&gt;')
