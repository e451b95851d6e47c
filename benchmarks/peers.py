"""Run ONE peer on ONE torchvision model in this (fresh) process and write its picture; print one JSON line.

Not a benchmark by itself: ``render_vs_peers.py`` / ``run_all.py`` start this in a fresh interpreter per
run and time the whole process (imports + model build + render + file written), exactly like they time
``render3d render``. Every peer builds the same torchvision model with ``weights=None`` (random init,
seeded), input 1×3×224×224.

    python benchmarks/peers.py visualtorch  MODEL OUT.png [--style flow|graph|lenet]
    python benchmarks/peers.py torchview    MODEL OUT.png [--depth 3] [--no-dot]
    python benchmarks/peers.py torchrender3d MODEL OUT.png [--documented] [--res 1024]

torchrender3d (PyPI 0.0.7) has no "save a picture" call: its documented path is
``PlotNetwork3D(...)(close_automatically_window=True)``, which calls ``update_plot()`` →
``vtkRenderWindowInteractor.ProcessEvents()`` and segfaults without an X display (``--documented``
runs exactly that, so the failure can be recorded). The default path builds the same
``PlotNetwork3D`` (plot_type="output": its activation view), then renders its render window offscreen
with MSAA off (with MSAA its translucent volumes vanish on llvmpipe) and writes a PNG through
``vtkWindowToImageFilter`` — the least we can add to get an image headless.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

T0 = time.perf_counter()
SHAPE = (1, 3, 224, 224)


def _model(name: str):
    import torch
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


def run_visualtorch(args) -> dict:
    import visualtorch

    model = _model(args.model)
    t = time.perf_counter()
    img = visualtorch.render(model, input_shape=SHAPE, style=args.style)
    render_s = time.perf_counter() - t
    img.save(args.out)
    return {"render_s": render_s, "image": list(img.size)}


def run_torchview(args) -> dict:
    import torchview

    model = _model(args.model)
    t = time.perf_counter()
    graph = torchview.draw_graph(model, input_size=SHAPE, depth=args.depth, device="cpu")
    build_s = time.perf_counter() - t
    out = {"build_s": build_s, "dot_source_bytes": len(graph.visual_graph.source)}
    if not args.no_dot:
        t = time.perf_counter()
        base, _ = os.path.splitext(args.out)
        graph.visual_graph.render(filename=base, format="png", cleanup=True)
        out["dot_s"] = time.perf_counter() - t
    return out


def run_torchrender3d(args) -> dict:
    import numpy as np
    import torch
    import vtk
    from torchrender3d import PlotNetwork3D

    np.random.seed(0)
    model = _model(args.model)
    data = torch.rand(*SHAPE)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "ckpt.pt")
        if args.documented:  # update_plot() reloads the parameters from this file
            torch.save(model.state_dict(), ckpt)
        t = time.perf_counter()
        net = PlotNetwork3D(
            model,
            stored_network_params_path=ckpt,
            plot_type="output",
            test_data=data,
            render_res=(args.res, args.res),
            output_anim_folder=tmp + "/",
            input_image_dim=SHAPE[1:],
        )
        build_s = time.perf_counter() - t
        print(
            f"torchrender3d: built {len(net.plot_builder.actors)} actors in {build_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        t = time.perf_counter()
        if args.documented:
            net(close_automatically_window=True)  # update_plot -> ProcessEvents: SIGSEGV under EGL
        else:
            window = net._render_window
            window.SetOffScreenRendering(1)
            window.SetMultiSamples(0)
            net._renderer.SetBackground(0, 0, 0.1)  # what __call__ sets
            net._renderer.ResetCamera()
            window.Render()
            grab = vtk.vtkWindowToImageFilter()
            grab.SetInput(window)
            grab.ReadFrontBufferOff()
            grab.Update()
            writer = vtk.vtkPNGWriter()
            writer.SetFileName(args.out)
            writer.SetInputConnection(grab.GetOutputPort())
            writer.Write()
        return {"build_s": build_s, "render_s": time.perf_counter() - t, "actors": len(net.plot_builder.actors)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("peer", choices=("visualtorch", "torchview", "torchrender3d"))
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--style", default="flow")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--no-dot", action="store_true")
    p.add_argument("--documented", action="store_true")
    p.add_argument("--res", type=int, default=1024)
    args = p.parse_args()
    result = {"visualtorch": run_visualtorch, "torchview": run_torchview, "torchrender3d": run_torchrender3d}[
        args.peer
    ](args)
    result["total_in_process_s"] = time.perf_counter() - T0
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
