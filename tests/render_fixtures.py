"""Hand-made scenes for the render tests: no tracing, no scene builder, fixed numbers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from render3d.scene.model import Blocks, Camera, Connector, FeatureMap, Labels, Scene

PALETTE = {
    "Input": (187, 187, 187),
    "Conv": (0, 114, 178),
    "Activation": (240, 228, 66),
    "Pool": (0, 158, 115),
    "Add": (204, 121, 167),
    "Linear": (230, 159, 0),
}


def fit_camera(lower: np.ndarray, upper: np.ndarray, *, view_angle: float = 30.0, aspect: float = 16 / 9) -> Camera:
    """A three-quarter view from front-right-above that fits the box ``lower..upper``."""
    center = (lower + upper) / 2
    radius = float(np.linalg.norm(upper - lower)) / 2
    half_v = math.radians(view_angle) / 2
    half_h = math.atan(math.tan(half_v) * aspect)
    distance = radius / math.sin(min(half_v, half_h)) * 0.92
    direction = np.array([0.35, 0.45, 1.0])
    direction /= np.linalg.norm(direction)
    position = center + direction * distance
    return Camera(tuple(position), tuple(center), (0.0, 1.0, 0.0), view_angle)


def _blocks() -> Blocks:
    #            id          category     center x   size (dx, dy, dz)
    rows = [
        ("input", "Input", 0.0, (0.3, 3.2, 0.6)),
        ("conv1", "Conv", 1.5, (0.5, 3.2, 1.6)),
        ("relu1", "Activation", 2.7, (0.3, 3.2, 1.6)),
        ("pool1", "Pool", 3.8, (0.4, 1.6, 1.6)),
        ("conv2", "Conv", 5.0, (0.5, 1.6, 2.4)),
        ("add", "Add", 6.3, (0.3, 1.6, 2.4)),
        ("fc", "Linear", 7.8, (0.4, 1.0, 0.4)),
    ]
    n = len(rows)
    centers = np.zeros((n, 3))
    centers[:, 0] = [r[2] for r in rows]
    sizes = np.array([r[3] for r in rows], dtype=float)
    categories = [r[1] for r in rows]
    colors = np.array([PALETTE[c] for c in categories], dtype=np.uint8)
    info = [f"{r[0]}\n{r[1]}\nblock {i}" for i, r in enumerate(rows)]
    return Blocks([r[0] for r in rows], centers, sizes, colors, categories, info=info)


def small_scene(*, activations: bool = True) -> Scene:
    """Seven blocks, flow lines, one skip arc, labels; with activations a planes map and bars."""
    blocks = _blocks()
    lower, upper = blocks.lower, blocks.upper
    connectors = [
        Connector(
            blocks.node_ids[i], blocks.node_ids[i + 1], np.array([[upper[i, 0], 0.0, 0.0], [lower[i + 1, 0], 0.0, 0.0]])
        )
        for i in range(len(blocks) - 1)
    ]
    t = np.linspace(0.0, 1.0, 24)
    x0, x1 = blocks.centers[3, 0], blocks.centers[5, 0]
    arc = np.stack([x0 + (x1 - x0) * t, 0.8 + 1.6 * np.sin(np.pi * t), np.zeros_like(t)], axis=1)
    connectors.append(Connector("pool1", "add", arc, kind="skip"))

    label_pos = blocks.centers.copy()
    label_pos[:, 1] = upper[:, 1] + 0.35 + 0.6 * (np.arange(len(blocks)) % 2)  # staggered
    texts = ["input 3×32×32 → α", "conv1 8×32×32", "ReLU", "pool 8×16×16", "conv2 12×16×16", "add", "fc 10"]
    labels = Labels(label_pos, texts, list(blocks.node_ids))

    feature_maps: list[FeatureMap] = []
    if activations:
        yy, xx = np.mgrid[0:16, 0:16] / 15.0
        planes = np.stack([np.sin(3 * xx + k) * np.cos(2 * yy - k) for k in range(4)]).astype(np.float32)
        feature_maps.append(
            FeatureMap(
                "conv1",
                "planes",
                planes,
                origin=np.array([1.0, -4.4, -0.6]),
                plane_size=np.array([1.0, 1.0]),
                spacing=0.4,
                clim=(-1.0, 1.0),
            )
        )
        bars = np.linspace(-1.0, 1.0, 10, dtype=np.float32).reshape(1, 1, 10)
        feature_maps.append(
            FeatureMap(
                "fc",
                "bars",
                bars,
                origin=np.array([7.65, -3.3, 0.0]),
                plane_size=np.array([0.3, 2.2]),
                spacing=0.0,
                clim=(-1.0, 1.0),
            )
        )

    scene = Scene(
        title="SmallNet · 7 blocks → α",
        mode="activations" if activations else "architecture",
        blocks=blocks,
        connectors=connectors,
        labels=labels,
        legend=[(name, rgb) for name, rgb in PALETTE.items()],
        camera=Camera((0, 0, 1), (0, 0, 0)),
        feature_maps=feature_maps,
        colorbar_title="activation" if activations else "",
    )
    return replace(scene, camera=fit_camera(*scene.bounds))


def grid_scene(n: int = 1000, *, labels: int = 40) -> Scene:
    """``n`` boxes on a grid with flow lines between neighbours: the performance scene."""
    side = math.ceil(math.sqrt(n))
    i = np.arange(n)
    centers = np.stack([(i % side) * 1.5, np.zeros(n), (i // side) * 1.5], axis=1).astype(float)
    sizes = np.tile([0.6, 1.0, 0.9], (n, 1))
    names = list(PALETTE)
    categories = [names[k % len(names)] for k in range(n)]
    colors = np.array([PALETTE[c] for c in categories], dtype=np.uint8)
    blocks = Blocks([f"b{k}" for k in range(n)], centers, sizes, colors, categories)
    connectors = [
        Connector(f"b{k}", f"b{k + 1}", np.array([centers[k] + [0.3, 0, 0], centers[k + 1] - [0.3, 0, 0]]))
        for k in range(n - 1)
        if (k + 1) % side
    ]
    step = max(1, n // labels) if labels else n + 1
    keep = i[::step][:labels]
    label_pos = centers[keep] + [0, 0.8, 0]
    scene = Scene(
        title=f"{n} blocks",
        mode="architecture",
        blocks=blocks,
        connectors=connectors,
        labels=Labels(label_pos, [f"block {k}" for k in keep], [f"b{k}" for k in keep]),
        legend=[(name, rgb) for name, rgb in PALETTE.items()],
        camera=Camera((0, 0, 1), (0, 0, 0)),
    )
    return replace(scene, camera=fit_camera(*scene.bounds))
