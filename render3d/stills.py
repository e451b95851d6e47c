"""Gallery stills of the teaching videos: one frame of a tour, an explainer or a training story, named
by a scene file's ``video`` key (see :mod:`render3d.scenefile`).

A still is drawn by the same code as the video it comes from (``render3d.tour``, ``render3d.explain``,
``render3d.record.animate.render_frame``), so ``render3d gallery`` keeps the README's teaching pictures
in step with what the commands really make.
"""

from __future__ import annotations

import os
from pathlib import Path

from render3d.errors import SceneFileError
from render3d.scenefile import SceneFile

__all__ = ["render_still"]


def render_still(sf: SceneFile, path: str | os.PathLike[str], *, trust_pickle: bool = False) -> Path:
    """Write the frame at ``sf.at`` (a fraction of the video) of the video ``sf.video`` to ``path``.

    ``"training"`` shows ``sf.recording`` at that fraction of its epochs, with the panels of
    ``render3d animate``; ``"tour"`` and ``"explain"`` run ``sf.model`` on ``sf.probe`` (weights,
    input shape and depth as for a scene).
    """
    if sf.video == "training":
        from render3d.record.animate import render_frame
        from render3d.record.recording import load_recording

        if sf.recording is None:  # read_scene_file requires it; a SceneFile built in code may lack it
            raise SceneFileError("video = 'training' needs key 'recording' (the recording folder to show)")
        recording = load_recording(sf.recording)
        position = sf.at * (len(recording.consistent()) - 1)
        return render_frame(recording, path, position=position, size=sf.size)
    from render3d.api import Spec

    spec = Spec.from_scene_file(sf, trust_pickle=trust_pickle)
    if sf.video == "explain":
        from render3d.explainer import explain

        if sf.layer is None:
            raise SceneFileError("video = 'explain' needs key 'layer' (the layer to explain)")
        return explain(spec, layer=sf.layer, path=path, size=sf.size, at=sf.at, progress=False)
    from render3d.api import load_spec_model
    from render3d.flythrough import tour
    from render3d.modelspec import call_inputs
    from render3d.probe import describe_probe

    model, example = load_spec_model(spec)
    inputs, kwargs = call_inputs(example)
    return tour(
        model,
        *inputs,
        path=path,
        size=sf.size,
        at=sf.at,
        depth=sf.depth,
        title=sf.title,
        input_name=describe_probe(sf.probe)[0] if sf.probe else "",
        progress=False,
        model_kwargs=kwargs,
    )
