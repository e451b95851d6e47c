"""Turning a MODEL string from the command line or a scene file into an ``nn.Module`` and an input.

Accepted forms::

    torchvision:resnet18            a torchvision builder, random init (no download, ever)
    path/to/file.py:ClassOrFactory  a class or zero-argument factory in a Python file
    package.module:ClassOrFactory   the same, imported from an installed module
    render3d:SeedCNN                a model shipped in render3d.models
    render3d.zoo:bert_tiny          small timm / Hugging Face / smp / MONAI / detection models

The input is the model's own ``example_input()`` when it has one (a tensor, a tuple of positional
inputs or a dict of keyword inputs, e.g. token ids of dtype long; see :mod:`render3d.zoo`), else
a seeded random tensor of ``--input-shape`` or the model's ``example_input_shape`` (and
``example_input_dtype``).

Building never touches the network: a factory that tries to download weights (smp's default
``encoder_weights="imagenet"``, ``from_pretrained``, ``pretrained=True``) fails at once with one line
saying how to build it with random init, instead of hanging or printing a long traceback.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import math
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from render3d.errors import ModelSpecError, first_line

_VIDEO_SHAPE = (1, 3, 8, 112, 112)
_IMAGE_SHAPE = (1, 3, 224, 224)
_SPECIAL_SHAPES = {"inception_v3": (1, 3, 299, 299)}


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` or ``"1x3x224x224"`` → ``(1, 3, 224, 224)``."""
    parts = re.split(r"\s*[,x×]\s*", text.strip())
    shape = tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()
    if not shape or any(d <= 0 for d in shape):
        raise ModelSpecError(
            f"input shape {text!r} is not valid: give positive integers separated by commas, e.g. 1,3,224,224"
        )
    return shape


def load_model(spec: str) -> nn.Module:
    """Build the model a MODEL string names (see module docstring).

    Random initialisation is seeded (without touching the caller's RNG state), so the same command
    draws the same picture every time.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return _load_model(spec)


def _load_model(spec: str) -> nn.Module:
    source, sep, name = spec.rpartition(":")
    if not sep or not source or not name:
        raise ModelSpecError(
            f"model {spec!r} is not valid: use torchvision:NAME, path/to/file.py:Class or package.module:Class"
        )
    with _offline() as attempts:
        try:
            return _build(spec, source, name)
        except Exception as exc:
            if attempts or _is_network_error(exc):
                where = f" ({attempts[0]})" if attempts else ""
                raise DownloadRefusedError(
                    f"model {spec!r} tried to download while being built{where}; render3d builds offline: "
                    "construct it in a file with random init, e.g. model.py: def model(): return "
                    "smp.Unet(encoder_weights=None) (timm: pretrained=False; transformers: a Config), "
                    "then pass model.py:model"
                ) from None
            if isinstance(exc, ModelSpecError):
                raise
            raise ModelSpecError(f"model {spec!r} could not be built: {type(exc).__name__}: {first_line(exc)}") from exc


class DownloadRefusedError(ModelSpecError):
    """A MODEL factory tried to reach the network; building it again anywhere would try the same."""


class _NetworkBlocked(ConnectionError):
    """Raised in place of any connection or DNS lookup while a model is being built."""


#: exception class names (searched through the cause chain) that mean "wanted the network"
_NETWORK_ERRORS = {
    "URLError",
    "OfflineModeIsEnabled",
    "LocalEntryNotFoundError",
    "ConnectionError",
    "gaierror",
    "ConnectTimeout",
    "ReadTimeout",
    "HTTPError",
}


@contextmanager
def _offline() -> Iterator[list[str]]:
    """Refuse every connection and DNS lookup (and tell Hugging Face it is offline) inside the block.

    Yields the list of hosts that were refused, so a failure can be blamed on the download it is.
    """
    attempts: list[str] = []

    def refuse(target: Any, *_: Any, **__: Any) -> Any:
        attempts.append(str(target[0] if isinstance(target, tuple) else target))
        raise _NetworkBlocked(f"render3d blocks network access while building a model ({attempts[-1]})")

    saved = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex
    saved_env = os.environ.get("HF_HUB_OFFLINE")
    socket.getaddrinfo = refuse  # type: ignore[assignment]  # replaced on purpose by one that always raises
    socket.socket.connect = lambda self, address: refuse(address)  # type: ignore[method-assign]
    socket.socket.connect_ex = lambda self, address: refuse(address)  # type: ignore[method-assign]
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield attempts
    finally:
        socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]
        if saved_env is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


def _is_network_error(exc: BaseException | None) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if any(cls.__name__ in _NETWORK_ERRORS for cls in type(exc).__mro__):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _build(spec: str, source: str, name: str) -> nn.Module:
    if source == "torchvision":
        return _torchvision_model(name)
    if source == "render3d":
        source = "render3d.models"
    if source.endswith(".py"):
        module = _import_file(Path(source), spec)
    else:
        try:
            module = importlib.import_module(source)
        except ImportError as exc:
            raise ModelSpecError(f"model {spec!r}: cannot import module {source!r} ({exc})") from None
    factory = getattr(module, name, None)
    if factory is None:
        public = [
            n
            for n, v in vars(module).items()
            if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == module.__name__
        ]
        hint = f"; it defines: {', '.join(sorted(public))}" if public else ""
        raise ModelSpecError(f"model {spec!r}: {source} has no attribute {name!r}{hint}")
    model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(model, nn.Module):
        raise ModelSpecError(f"model {spec!r}: {name} returned {type(model).__name__}, not an nn.Module")
    return model


def _import_file(path: Path, spec: str) -> Any:
    if not path.is_file():
        raise ModelSpecError(f"model {spec!r}: file {str(path)!r} does not exist")
    mod_name = f"render3d_user_{path.stem}"
    stamp = (str(path.resolve()), path.stat().st_mtime_ns)
    known = sys.modules.get(mod_name)
    if known is not None and getattr(known, "__render3d_stamp__", None) == stamp:
        return known  # the shape-only meta pass already ran this file: its top level runs once per command
    loader = importlib.util.spec_from_file_location(mod_name, path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[mod_name] = module
    loader.loader.exec_module(module)
    module.__render3d_stamp__ = stamp  # type: ignore[attr-defined]  # our own marker on a module object
    return module


def _torchvision_model(name: str) -> nn.Module:
    import torchvision

    available = torchvision.models.list_models()
    if name not in available:
        close = difflib.get_close_matches(name.lower(), available, n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See torchvision.models.list_models()."
        raise ModelSpecError(f"torchvision has no model {name!r}.{hint}")
    kwargs: dict[str, Any] = {"weights": None}
    if "weights_backbone" in inspect.signature(torchvision.models.get_model_builder(name)).parameters:
        kwargs["weights_backbone"] = None
    if name in ("googlenet", "inception_v3"):
        kwargs.update(init_weights=False, aux_logits=False)
    return torchvision.models.get_model(name, **kwargs)


def default_input_shape(spec: str, model: nn.Module) -> tuple[int, ...]:
    """The input a model is built for: its ``example_input_shape`` or torchvision's family default."""
    own = getattr(model, "example_input_shape", None)
    if own is not None:
        return tuple(own)
    source, _, name = spec.rpartition(":")
    if source == "torchvision":
        import torchvision

        if name in torchvision.models.list_models(module=torchvision.models.video):
            return _VIDEO_SHAPE
        image_size = getattr(model, "image_size", None)
        if isinstance(image_size, int):
            return (1, 3, image_size, image_size)
        return _SPECIAL_SHAPES.get(name, _IMAGE_SHAPE)
    raise ModelSpecError(
        f"model {spec!r} does not say what input it takes: pass --input-shape (e.g. 1,3,224,224) "
        "or give the class an example_input_shape attribute"
    )


def example_input(spec: str, model: nn.Module, shape: tuple[int, ...] | None = None, device: str | None = None) -> Any:
    """A seeded input: ``model.example_input()`` when the model provides one, else random normal.

    ``example_input()`` may return one tensor, a tuple of positional inputs or a dict of keyword
    inputs (token ids, an encoder–decoder's ``decoder_input_ids``); :func:`call_inputs` splits it.
    """
    make = getattr(model, "example_input", None)
    if shape is None and callable(make):
        return make()
    shape = shape or default_input_shape(spec, model)
    gen = torch.Generator().manual_seed(0)
    dtype = getattr(model, "example_input_dtype", torch.float32)
    if device == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    if dtype.is_floating_point:
        return torch.randn(shape, generator=gen, dtype=dtype)
    high = getattr(model, "example_input_high", 100)
    return torch.randint(0, high, shape, generator=gen, dtype=dtype)


def call_inputs(example: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` for ``model(*args, **kwargs)`` from what :func:`example_input` returned."""
    if isinstance(example, dict):
        return (), dict(example)
    if isinstance(example, tuple):
        return example, {}
    return (example,), {}


class _LargeTensorsOnMeta(TorchFunctionMode):
    """Create big tensors (weights) on the meta device and small ones (index arithmetic) on the CPU.

    ``with torch.device("meta")`` alone breaks builders that compute their layout with tensors and
    read it back (RegNet's ``torch.arange(...).tolist()``); weights are what cost memory.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES and kwargs.get("device") is None and _numel(args, kwargs) >= _META_MIN_NUMEL:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full}
_META_MIN_NUMEL = 1024


def _numel(args: tuple, kwargs: dict) -> int:
    size = kwargs.get("size", args[0] if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else args)
    if isinstance(size, (tuple, list, torch.Size)) and all(isinstance(d, int) for d in size):
        return math.prod(size)
    return 0


def build_on_meta(spec: str) -> nn.Module:
    """Build a model whose weights live on the meta device: no weight memory, for shape-only traces."""
    with _LargeTensorsOnMeta():
        return load_model(spec)
