"""Frames per second of ``render3d.animate`` (render + encode) against the encode-only ceiling.

The demo scene (DigitsCNN on a digit, activation planes on every map) at 1280×720: a recording of
``--snapshots`` snapshots (a few Adam steps on the bundled digits between them) is animated with
the same Player, frame loop and writer settings as ``animate_recording``; then the very same frames,
already in memory, are encoded alone. Both runs include closing the writer (ffmpeg flushing).
Targets: >= 30 fps and >= 0.5x the ceiling.

    python benchmarks/animate_fps.py [--snapshots 7] [--frames-per-epoch 15] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

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
        rec.snapshot(epoch)
        for s in range(0, 512, 64):
            loss = F.cross_entropy(model(x[s : s + 64]), y[s : s + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return folder


def main() -> None:
    from render3d.cli import _parse_size
    from render3d.record.animate import Player, iter_frames, open_writer, video_size

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=7)
    ap.add_argument("--frames-per-epoch", type=int, default=15)
    ap.add_argument("--size", type=_parse_size, default=(1280, 720))
    args = ap.parse_args()
    torch.set_num_threads(1)
    size = video_size(args.size)

    with tempfile.TemporaryDirectory() as tmp:
        folder = make_recording(Path(tmp) / "rec", args.snapshots)
        start = time.perf_counter()
        player = Player(folder, size=size)
        build = time.perf_counter() - start

        # render + encode: the animate_recording loop
        frames = []
        writer = open_writer(Path(tmp) / "a.mp4", 30)
        start = time.perf_counter()
        for image in iter_frames(folder, frames_per_epoch=args.frames_per_epoch, player=player):
            writer.append_data(image)
            frames.append(image)
        writer.close()
        both = time.perf_counter() - start
        n = len(frames)

        # render only (readback included), for reference
        start = time.perf_counter()
        for _ in iter_frames(folder, frames_per_epoch=args.frames_per_epoch, player=player):
            pass
        render = time.perf_counter() - start
        player.close()

        # encode only: the same frames, already in memory
        writer = open_writer(Path(tmp) / "b.mp4", 30)
        start = time.perf_counter()
        for image in frames:
            writer.append_data(image)
        writer.close()
        encode = time.perf_counter() - start
        mb = os.path.getsize(Path(tmp) / "a.mp4") / 1e6

    print(f"{n} frames at {size[0]}x{size[1]}, {len(player.scene.feature_maps)} feature maps "
          f"(scene built once in {build:.2f} s); MP4 {mb:.2f} MB")
    print(f"render only:      {n / render:6.1f} fps")
    print(f"render + encode:  {n / both:6.1f} fps")
    print(f"encode only:      {n / encode:6.1f} fps  (ceiling)")
    print(f"ratio:            {encode / both:6.2f}x of the ceiling (targets: >= 30 fps, >= 0.5x)")


if __name__ == "__main__":
    main()
