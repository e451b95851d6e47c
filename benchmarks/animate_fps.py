"""Frames per second of ``render3d.animate`` (render + encode) against the encode-only ceiling.

The demo's video: DigitsCNN on a digit, activation planes on every map, the story panel column and
the story timing (held first/last epoch), 1280×720, through the very frame loop ``animate`` runs
(``render_frames`` with the recording's story) and the same writer; then the very same frames, already
in memory, are encoded alone (the ceiling). Both include closing the writer (ffmpeg flushing).
``--rounds`` repeats the pair, interleaved; medians are printed. ``--phases`` adds one pass timing
each step of a drawn frame (values, image: rendered or composed, panels, copying them in).
Targets: >= 30 fps and >= 0.5x the ceiling.

    python benchmarks/animate_fps.py [--recording DIR] [--snapshots 11] [--size 1280x720] [--rounds 3]

Without ``--recording`` a demo-like recording is made first (``--snapshots`` snapshots, a few Adam
steps on the bundled digits between them).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def make_recording(folder: Path, snapshots: int) -> Path:
    from render3d.demo import DEMO_PROBE, INPUT_SHAPE
    from render3d.models import DigitsCNN
    from render3d.probe import digits_to_input, load_digits_images
    from render3d.record import Recorder

    torch.manual_seed(0)
    images, labels = load_digits_images()
    x, y = digits_to_input(images[:512], INPUT_SHAPE), torch.from_numpy(labels[:512])
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    rec = Recorder(model, DEMO_PROBE, folder, overwrite=True)
    for epoch in range(snapshots):
        rec.snapshot(epoch, loss=float(F.cross_entropy(model(x), y)))
        for s in range(0, 512, 64):
            loss = F.cross_entropy(model(x[s : s + 64]), y[s : s + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return folder


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) so far of this process (all its threads: llvmpipe's and the
    writer's too) and of its finished children (ffmpeg, once the writer has waited for it)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


class Timed:
    """Wall and CPU seconds (this process, ffmpeg) spent inside a ``with`` block."""

    def __enter__(self) -> Timed:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        own, kids = cpu_seconds()
        self.own, self.ffmpeg = own - self._cpu[0], kids - self._cpu[1]


def phases(player, plan) -> dict[str, float]:
    """Milliseconds per drawn frame of each step of ``render_frames``'s loop, one pass (held frames,
    which repeat the frame before, are left out as the loop leaves them out)."""
    from render3d.record.plan import _panels

    width, height = player.plotter.window_size
    panel = (plan.size[0] - width, height)
    spent = dict.fromkeys(("values", "image", "panels", "copy-in"), 0.0)
    drawn = sorted(
        set(range(len(plan))) - {j for j in range(1, len(plan)) if plan.positions[j] == plan.positions[j - 1]}
    )
    for j in drawn:
        position = plan.positions[j]
        t0 = time.perf_counter()
        player.set_position(float(position))
        t1 = time.perf_counter()
        frame = player.image(out=np.empty((height, plan.size[0], 3), dtype=np.uint8))  # rendered or composed
        t2 = time.perf_counter()
        column = _panels(plan.story, float(position), panel)
        t3 = time.perf_counter()
        frame[:, width:] = column
        t4 = time.perf_counter()
        for name, a, b in zip(spent, (t0, t1, t2, t3), (t1, t2, t3, t4)):
            spent[name] += b - a
    return {name: 1e3 * s / len(drawn) for name, s in spent.items()}


def rounds_of(player, plan, rounds: int, folder: Path) -> tuple[list[Timed], list[Timed], float]:
    """``rounds`` pairs, interleaved: the plan rendered and encoded, then its very frames encoded alone;
    returns both runs' timings and the video's size in MB."""
    from render3d.record.animate import open_writer, render_frames

    def render_encode() -> tuple[Timed, list[np.ndarray]]:
        frames = []
        player._last_render = player._composer = None  # each round learns the view again, as animate does
        with Timed() as spent:
            writer = open_writer(folder / "a.mp4", 30)
            for image in render_frames(player, plan):
                writer.append_data(image)
                frames.append(image)
            writer.close()
        return spent, frames

    def encode(frames: list[np.ndarray]) -> Timed:
        with Timed() as spent:
            writer = open_writer(folder / "b.mp4", 30)
            for image in frames:
                writer.append_data(image)
            writer.close()
        return spent

    runs: list[Timed] = []
    ceilings: list[Timed] = []
    for _ in range(rounds):
        spent, frames = render_encode()
        runs.append(spent)
        ceilings.append(encode(frames))
    return runs, ceilings, os.path.getsize(folder / "a.mp4") / 1e6


def report(runs: list[Timed], ceilings: list[Timed], n: int) -> None:
    """fps of both runs (medians and each round), their paired ratio and the CPU each took per frame."""
    both, ceiling = [r.wall for r in runs], [c.wall for c in ceilings]
    ratios = [c / b for b, c in zip(both, ceiling)]
    print(
        f"render + encode:  {n / statistics.median(both):6.1f} fps  (rounds: {', '.join(f'{n / s:.1f}' for s in both)})"
    )
    print(
        f"encode only:      {n / statistics.median(ceiling):6.1f} fps  (ceiling; rounds: "
        f"{', '.join(f'{n / s:.1f}' for s in ceiling)})"
    )
    print(
        f"ratio:            {statistics.median(ratios):6.2f}x of the ceiling (paired, median; "
        "targets: >= 30 fps, >= 0.5x)"
    )

    def per_frame(timed: list[Timed], field: str) -> float:
        return 1e3 * statistics.median(getattr(t, field) for t in timed) / n

    print(
        f"CPU per frame:    render + encode {per_frame(runs, 'own'):.1f} ms here + {per_frame(runs, 'ffmpeg'):.1f} ms "
        f"ffmpeg; encode only {per_frame(ceilings, 'own'):.1f} ms here + {per_frame(ceilings, 'ffmpeg'):.1f} ms ffmpeg "
        "(medians; what other processes on the machine cannot change)"
    )


def main() -> None:
    from render3d.record.animate import FramePlan, Player, _story, frame_positions, scene_size, video_size
    from render3d.record.recording import load_recording

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recording", type=Path, default=None, help="a recording folder (default: make one)")
    ap.add_argument("--snapshots", type=int, default=11)
    ap.add_argument(
        "--size", type=lambda v: tuple(int(x) for x in v.lower().split("x")), default=(1280, 720), help="WIDTHxHEIGHT"
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one round")
    ap.add_argument("--phases", action="store_true", help="also time each step of a frame (one more pass)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    size = video_size(args.size)
    rounds = 1 if args.quick else args.rounds

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.recording or make_recording(Path(tmp) / "rec", args.snapshots)
        recording = load_recording(folder)
        story = _story(recording, True, size, None)
        start = time.perf_counter()
        player = Player(recording, size=scene_size(size, story is not None))
        build = time.perf_counter() - start
        positions = frame_positions(player, 30, story=story)
        plan = FramePlan(tuple(positions.tolist()), story=story, size=size)
        runs, ceilings, mb = rounds_of(player, plan, rounds, Path(tmp))
        steps = phases(player, plan) if args.phases else None
        player.close()

    n = len(plan)
    held = n - len(np.unique(np.asarray(positions)))
    print(
        f"{n} frames at {size[0]}x{size[1]} ({held} repeat the frame before: held epochs), "
        f"{len(player.scene.feature_maps)} feature maps, story panels {'on' if story else 'off'} "
        f"(scene built once in {build:.2f} s); MP4 {mb:.2f} MB; {rounds} round(s), load {os.getloadavg()[0]:.1f}"
    )
    report(runs, ceilings, n)
    if steps:
        print("per frame (ms):   " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
