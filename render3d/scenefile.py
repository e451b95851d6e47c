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
    page = true                      # also <output>.html, the offline page of render3d export

    [style]                          # any render3d.scene.SceneStyle option
    azimuth = -20
    lod = "topk"

A still of a teaching video instead of a scene (``render3d gallery`` renders one frame of it)::

    video = "tour"                   # render3d tour: the narrated flythrough of model on probe
    at = 0.3                         # which frame: a fraction of the video, 0 … 1
    video = "explain"                # render3d explain, with layer = "conv1"
    video = "training"               # render3d animate, with recording = "recordings/digits" (no model)

Unknown keys, and values of the wrong type, are errors naming the file and the key, so a typo never
silently does nothing. A scene file cannot set ``trust_pickle``: running a gallery must never unpickle
arbitrary code; trust is given on the command line (``--trust-pickle``) or in code only. ``output`` stays
inside the gallery folder.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from render3d.errors import SceneFileError
from render3d.scene.style import DEFAULT_SIZE, MODES, SceneStyle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {
    "title",
    "model",
    "input_shape",
    "probe",
    "weights",
    "mode",
    "depth",
    "size",
    "output",
    "style",
    "anti_aliasing",
    "device",
    "video",
    "at",
    "layer",
    "recording",
    "page",
}
#: the teaching videos a scene file can take a still of (key ``video``)
VIDEOS = ("tour", "explain", "training")


@dataclass(frozen=True)
class SceneFile:
    path: Path
    model: str
    title: str | None = None
    input_shape: tuple[int, ...] | None = None
    probe: str | None = None
    weights: Path | None = None
    mode: str = "architecture"
    depth: int | None = None
    size: tuple[int, int] = DEFAULT_SIZE
    output: str = ""
    anti_aliasing: bool = False
    device: str | None = None
    style: dict[str, Any] = field(default_factory=dict)
    #: a still of this teaching video instead of a scene: "tour", "explain" or "training" (see VIDEOS)
    video: str | None = None
    #: the still's place in the video, a fraction from 0 to 1
    at: float = 0.5
    #: the layer an "explain" still explains
    layer: str | None = None
    #: the recording folder a "training" still shows
    recording: Path | None = None
    #: also write ``<output>.html`` (render3d export's page: the scene, or the recording with its slider)
    page: bool = False


def is_scene_file(spec: str) -> bool:
    return spec.endswith(".toml")


def read_scene_file(path: str | os.PathLike[str]) -> SceneFile:
    """Parse and check a scene file; every problem is a one-line :class:`SceneFileError` naming the file
    and the key."""
    path = Path(path)
    data = _load(path)
    if "trust_pickle" in data:
        raise SceneFileError(
            f"{path}: key 'trust_pickle' is not allowed: a scene file cannot grant trust; "
            "pass --trust-pickle on the command line (or trust_pickle=True in code)"
        )
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise SceneFileError(f"{path}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(KEYS))}")
    check = _Checker(path, data)
    video = check.video()
    if "model" not in data and video != "training":
        raise SceneFileError(f"{path}: missing required key 'model' (e.g. model = \"torchvision:resnet18\")")
    recording = check.text("recording")
    weights = check.text("weights")
    mode = check.text("mode") or "architecture"
    if mode not in MODES:
        raise SceneFileError(f"{path}: key 'mode' must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    device = check.text("device")
    if device is not None:
        from render3d.preflight import check_device

        try:
            check_device(device, mode)
        except ValueError as exc:
            raise SceneFileError(f"{path}: key 'device': {exc}") from None
    return SceneFile(
        path=path,
        model=check.text("model", required=video != "training") or "",
        title=check.text("title"),
        input_shape=check.input_shape(),
        probe=check.text("probe"),
        weights=(path.parent / weights) if weights else None,
        mode=mode,
        depth=check.positive_int("depth"),
        size=check.size(),
        output=check.output(),
        anti_aliasing=check.flag("anti_aliasing"),
        device=device,
        style=check.style(),
        video=video,
        at=check.fraction("at", 0.5),
        layer=check.text("layer", required=video == "explain"),
        recording=(path.parent / recording) if recording else None,
        page=check.flag("page"),
    )


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SceneFileError(f"scene file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise SceneFileError(f"scene file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SceneFileError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); TOML files are UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneFileError(f"{path}: not valid TOML: {exc}") from None


class _Checker:
    """Typed reads of one scene file's keys; a wrong type is a SceneFileError naming file, key and value."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, key: str, wanted: str, value: Any) -> SceneFileError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return SceneFileError(f"{self.path}: key {key!r} must be {wanted}, got {shown}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(key, "a non-empty string" if required else "a string", value)
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def video(self) -> str | None:
        """``video`` with the keys it needs (``layer`` for explain, ``recording`` for training) and none
        that belong to another kind."""
        video = self.text("video")
        if video is None:
            extra = sorted({"at", "layer", "recording"} & set(self.data))
            if extra:
                videos = ", ".join(map(repr, VIDEOS))
                raise SceneFileError(f"{self.path}: key {extra[0]!r} needs video = one of {videos}")
            return None
        if video not in VIDEOS:
            raise self.fail("video", f"one of {', '.join(map(repr, VIDEOS))}", video)
        needs = {"explain": "layer", "training": "recording"}.get(video)
        if needs and needs not in self.data:
            raise SceneFileError(f"{self.path}: video = {video!r} needs key {needs!r}")
        if video in ("tour", "explain") and self.data.get("page"):
            raise SceneFileError(
                f"{self.path}: page = true exports a scene or a recording; video = {video!r} has "
                "neither (use video = 'training' or no video)"
            )
        for key, owner in (("layer", "explain"), ("recording", "training")):
            if key in self.data and video != owner:
                raise SceneFileError(f"{self.path}: key {key!r} applies to video = {owner!r}, not {video!r}")
        return video

    def fraction(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if not (_is_number(value) and 0 <= value <= 1):
            raise self.fail(key, "a number from 0 to 1 (a fraction of the video)", value)
        return float(value)

    def positive_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is not None and (not _is_int(value) or value < 1):
            raise self.fail(key, "a positive integer", value)
        return value

    def input_shape(self) -> tuple[int, ...] | None:
        value = self.data.get("input_shape")
        if value is None:
            return None
        if not (isinstance(value, list) and value and all(_is_int(v) and v > 0 for v in value)):
            raise self.fail("input_shape", "a list of positive integers, e.g. [1, 3, 224, 224]", value)
        from render3d.preflight import check_shape

        try:
            return check_shape(tuple(value))
        except ValueError as exc:
            raise SceneFileError(f"{self.path}: key 'input_shape': {exc}") from None

    def size(self) -> tuple[int, int]:
        from render3d.limits import check_size

        value = self.data.get("size", list(DEFAULT_SIZE))
        if not (isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)):
            raise self.fail("size", "[width, height] in pixels, e.g. [1920, 1080]", value)
        try:
            return check_size(value)
        except ValueError as exc:
            raise SceneFileError(f"{self.path}: key 'size': {exc}") from None

    def output(self) -> str:
        value = self.text("output") or self.path.stem
        parts = Path(value).parts
        if Path(value).is_absolute() or ".." in parts or not parts or "\0" in value:
            raise self.fail("output", "a file name inside the gallery folder (no '..', not absolute)", value)
        return value

    def style(self) -> dict[str, Any]:
        value = self.data.get("style", {})
        if not isinstance(value, dict):
            raise self.fail("style", "a table of SceneStyle options ([style])", value)
        types = {f.name: f.type for f in fields(SceneStyle)}
        for key, option in value.items():
            if key not in types:
                raise SceneFileError(
                    f"{self.path}: unknown key 'style.{key}'; valid style options: {', '.join(sorted(types))}"
                )
            wanted = _STYLE_TYPES.get(str(types[key]))
            if wanted is not None and not wanted[1](option):
                raise self.fail(f"style.{key}", wanted[0], option)
        try:
            SceneStyle(**value)
        except (TypeError, ValueError) as exc:
            raise SceneFileError(f"{self.path}: [style]: {exc}") from None
        return dict(value)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


#: SceneStyle field annotation -> (what the value must be, its check)
_STYLE_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("an integer", _is_int),
    "float": ("a finite number", _is_number),
    "float | None": ("a finite number", _is_number),
    "str": ("a string", lambda v: isinstance(v, str)),
    "str | int": ("a string or an integer", lambda v: isinstance(v, str) or _is_int(v)),
    "tuple[int, int]": (
        "[width, height] in pixels",
        lambda v: isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x > 0 for x in v),
    ),
}


def find_scene_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise SceneFileError(f"no scene files (*.toml) in {str(folder)!r}")
    return files
