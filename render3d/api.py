"""The public entry points that cross rooms: MODEL strings → trace → scene → pixels.

This is the only place (besides the CLI) that talks to both torch and the renderer; each room stays
importable on its own.
"""

from __future__ import annotations



from render3d.graph import Trace


def trace_spec(
    spec: str,
    *,
    input_shape: str | tuple[int, ...] | None = None,
    depth: int | None = None,
    weights: str | None = None,
    trust_pickle: bool = False,
    device: str | None = None,
    capture: str = "reduced",
) -> Trace:
    """Trace a model named by a MODEL string (``torchvision:resnet18``, ``file.py:Class``, ...)."""
    from render3d import modelspec
    from render3d.tracing.tracer import trace

    shape = modelspec.parse_shape(input_shape) if isinstance(input_shape, str) else input_shape
    if device == "meta":
        model = modelspec.build_on_meta(spec)
    else:
        model = modelspec.load_model(spec)
    if weights:
        if device == "meta":
            from render3d.errors import ModelSpecError

            raise ModelSpecError("--weights cannot be combined with --device meta (meta has no values)")
        from render3d.checkpoints import load_checkpoint

        load_checkpoint(model, weights, trust_pickle=trust_pickle)
    x = modelspec.example_input(spec, model, shape, device=device)
    return trace(model, x, depth=depth, capture=capture, device=device)


