"""Scene files (``scenes/*.toml``): a model, its input and how to draw it, in one reviewable file.

Example::

    title = "ResNet-18"
    model = "torchvision:resnet18"
    input_shape = [1, 3, 224, 224]   # optional: the model's own default otherwise
    probe = "random"                 # or "digit:3", or a file (see render3d.probe)
    weights = "checkpoints/final.pt" # optional, relative to the scene file
    mode = "architecture"            # or "activations"
    depth = 2                        # optional
    size = [1920, 1080]
    output = "resnet18"              # PNG name in the gallery (default: the file's stem)

    [style]                          # any render3d.scene.SceneStyle option
    azimuth = -20
    lod = "topk"

Unknown keys are errors naming the file and the key, so a typo never silently does nothing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render3d.errors import SceneFileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"title", "model", "input_shape", "probe", "weights", "trust_pickle", "mode", "depth", "size",
        "output", "style", "anti_aliasing", "device"}


@dataclass(frozen=True)
class SceneFile:
    path: Path
    model: str
    title: str | None = None
    input_shape: tuple[int, ...] | None = None
    probe: str | None = None
    weights: Path | None = None
    trust_pickle: bool = False
    mode: str = "architecture"
    depth: int | None = None
    size: tuple[int, int] = (1920, 1080)
    output: str = ""
    anti_aliasing: bool = False
    device: str | None = None
    style: dict[str, Any] = field(default_factory=dict)


def is_scene_file(spec: str) -> bool:
    return spec.endswith(".toml")


def read_scene_file(path: str | Path) -> SceneFile:
    """Parse and check a scene file; every problem is a one-line :class:`SceneFileError`."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SceneFileError(f"scene file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SceneFileError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise SceneFileError(f"{path}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(KEYS))}")
    if "model" not in data:
        raise SceneFileError(f"{path}: missing required key 'model' (e.g. model = \"torchvision:resnet18\")")
    style = data.get("style", {})
    if not isinstance(style, dict):
        raise SceneFileError(f"{path}: [style] must be a table of SceneStyle options")
    size = data.get("size", [1920, 1080])
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise SceneFileError(f"{path}: size must be [width, height] in pixels, got {size!r}")
    weights = data.get("weights")
    return SceneFile(
        path=path,
        model=data["model"],
        title=data.get("title"),
        input_shape=tuple(data["input_shape"]) if "input_shape" in data else None,
        probe=data.get("probe"),
        weights=(path.parent / weights) if weights else None,
        trust_pickle=bool(data.get("trust_pickle", False)),
        mode=data.get("mode", "architecture"),
        depth=data.get("depth"),
        size=(int(size[0]), int(size[1])),
        output=data.get("output", path.stem),
        anti_aliasing=bool(data.get("anti_aliasing", False)),
        device=data.get("device"),
        style=dict(style),
    )


def find_scene_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise SceneFileError(f"no scene files (*.toml) in {str(folder)!r}")
    return files
