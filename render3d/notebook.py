"""render3d in Jupyter: the interactive page (:mod:`render3d.rendering.webpage`) inline, in an iframe
whose ``srcdoc`` is the whole page (no server, no kernel extension), with a PNG beside it in the same
output for frontends that show no HTML (nbconvert to PDF, plain viewers).

Importing this module costs nothing (only ``sys``): ``render3d/__init__`` calls :func:`register_display`,
which, inside IPython only, teaches its formatter to show a :class:`~render3d.scene.model.Scene` or a
:class:`~render3d.graph.Trace` (registered by name: neither module is imported for it, so
``import render3d.scene`` stays free of pyvista and torch).
"""

from __future__ import annotations

import base64
import sys
from typing import Any

__all__ = ["IFRAME_HEIGHT", "iframe", "in_notebook", "mimebundle", "register_display", "show_inline"]

#: height of the inline view in pixels (its width is the notebook's)
IFRAME_HEIGHT = 540
#: the PNG beside the page is drawn at this size
PNG_SIZE = (960, 540)


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    if ipython is None:  # nobody imported IPython: not a notebook, and do not import it here
        return None
    try:
        return ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a half-imported or replaced IPython is simply "no notebook"
        return None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a shell with a kernel: not terminal IPython, not plain Python)."""
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def iframe(html: str, height: int = IFRAME_HEIGHT) -> str:
    """``html`` as an iframe ``srcdoc`` (scripts allowed, nothing else: no same-origin access to the notebook)."""
    from html import escape

    return (
        f'<iframe srcdoc="{escape(html, quote=True)}" sandbox="allow-scripts" '
        f'style="width: 100%; height: {int(height)}px; border: 0;" title="render3d scene"></iframe>'
    )


def _scene(obj: Any) -> Any:
    from render3d.api import to_scene
    from render3d.graph import Trace

    if isinstance(obj, Trace):
        mode = "activations" if any(node.activation is not None for node in obj) else "architecture"
        return to_scene(obj, mode=mode)
    return to_scene(obj)


def _png(scene: Any) -> bytes | None:
    """The scene as a PNG, or None where this machine cannot render (the page still shows)."""
    from render3d.errors import RenderUnavailableError

    try:
        from render3d.rendering import build_plotter
        from render3d.rendering.gltf import png_bytes

        plotter, _ = build_plotter(scene, size=PNG_SIZE)
        try:
            plotter.render()
            return png_bytes(plotter.screenshot(None, return_img=True))
        finally:
            plotter.close()
    except RenderUnavailableError:
        return None


def mimebundle(obj: Any, *, height: int = IFRAME_HEIGHT, png: bool = True) -> dict[str, Any]:
    """``{"text/html": <iframe>, "image/png": <base64>}`` for a Scene, Trace, model or MODEL string (a
    recording folder or :class:`~render3d.record.Recording` gives the page with its epoch slider)."""
    from render3d.rendering.webpage import scene_html
    from render3d.share import given_recording, recording_scene

    if given_recording(obj):
        scene, frames, note = recording_scene(obj)
        html = scene_html(scene, frames, info_note=note)
    else:
        scene = _scene(obj)
        html = scene_html(scene)
    bundle: dict[str, Any] = {"text/html": iframe(html, height)}
    image = _png(scene) if png else None
    if image is not None:
        bundle["image/png"] = base64.b64encode(image).decode("ascii")  # as Jupyter's JSON carries it
    return bundle


def show_inline(obj: Any, *, height: int = IFRAME_HEIGHT) -> None:
    """Display ``obj`` (see :func:`mimebundle`) in the notebook's output."""
    from IPython.display import display

    display(mimebundle(obj, height=height), raw=True)


def register_display() -> None:
    """Inside IPython, show Scenes and Traces with :func:`mimebundle` (a no-op anywhere else)."""
    shell = _shell()
    formatter = getattr(getattr(shell, "display_formatter", None), "mimebundle_formatter", None)
    if formatter is None:
        return
    for module, name in (("render3d.scene.model", "Scene"), ("render3d.graph", "Trace")):
        formatter.for_type_by_name(module, name, mimebundle)
