"""Probe inputs: the fixed tensor a model is traced on, named by a short string.

    random          seeded normal noise (the default)
    digit:N         scikit-learn's bundled 8×8 digit number N (no download), resized to the input
    path/img.png    an image file, resized; path/x.npy or path/x.pt a saved array/tensor

A real picture matters: activations of noise say little about what a trained model does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from render3d.errors import ModelSpecError, first_line

#: mean/std of the 8×8 digits after scaling to [0, 1]; the demo trains on inputs normalised this way
DIGITS_MEAN, DIGITS_STD = 0.305, 0.376


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 bundled digits as float32 images in [0, 1] (N, 8, 8) and their labels.

    scikit-learn is the ``demo`` extra, not a core dependency (it and SciPy are ~200 MB), so its absence
    is one line saying what to install rather than a ModuleNotFoundError."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ModelSpecError(
            "render3d demo and digit:N probes read scikit-learn's bundled digits, and "
            "scikit-learn is not installed: pip install 'render3d[demo]'"
        ) from None

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)


def digits_to_input(images: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    """(N, 8, 8) digits in [0, 1] → a normalised (N, C, H, W) batch for a model taking ``shape``."""
    x = torch.from_numpy(np.ascontiguousarray(images))[:, None]
    x = F.interpolate(x, size=tuple(shape[-2:]), mode="bilinear", align_corners=False)
    x = (x - DIGITS_MEAN) / DIGITS_STD
    return x.expand(-1, shape[1], -1, -1).contiguous()


def describe_probe(spec: str | None) -> tuple[str, int | None]:
    """What a probe spec shows, for a title, and its class when the spec knows it: ``digit:45`` →
    ``("digit 3", 3)`` (image 45 of the bundled digits is a 3), ``img/cat.png`` → ``("cat.png", None)``,
    ``random`` → ``("random noise", None)``."""
    spec = spec or "random"
    if spec == "random":
        return "random noise", None
    if spec.startswith("digit:"):
        _, labels = load_digits_images()
        try:
            label = int(labels[int(spec.split(":", 1)[1])])
        except (ValueError, IndexError):
            return spec, None
        return f"digit {label}", label
    return Path(spec).name, None


def make_probe(spec: str | None, shape: tuple[int, ...], *, seed: int = 0) -> torch.Tensor:
    """The probe tensor for ``spec`` (see module docstring) with the model's input ``shape``."""
    spec = spec or "random"
    if spec == "random":
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    if len(shape) != 4 and (spec.startswith("digit:") or Path(spec).suffix.lower() in (".png", ".jpg", ".jpeg")):
        raise ModelSpecError(f"probe {spec!r} is an image but the model takes input shape {shape}; use a .npy/.pt")
    if spec.startswith("digit:"):
        images, _ = load_digits_images()
        try:
            index = int(spec.split(":", 1)[1])
            if index < 0:  # numpy would count from the end
                raise IndexError(index)
            image = images[index]
        except (ValueError, IndexError):
            raise ModelSpecError(f"probe {spec!r} is not valid: use digit:N with 0 <= N < {len(images)}") from None
        return digits_to_input(image[None], shape).expand(shape[0], -1, -1, -1).contiguous()
    path = Path(spec)
    if not path.is_file():
        raise ModelSpecError(f"probe {spec!r} is not 'random', 'digit:N' or an existing file")
    try:
        tensor = _read_probe_file(path, shape)
    except Exception as exc:  # a damaged or foreign file: one line naming it
        raise ModelSpecError(f"probe {spec!r} cannot be read: {type(exc).__name__}: {first_line(exc)}") from exc
    if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(shape):
        got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise ModelSpecError(f"probe {spec!r} has shape {got}, the model takes {tuple(shape)}")
    return tensor.float()


def _read_probe_file(path: Path, shape: tuple[int, ...]) -> object:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return torch.from_numpy(np.load(path, allow_pickle=False))
    if suffix == ".pt":
        from render3d.checkpoints import read_object

        return read_object(path)
    import imageio.v3 as iio

    pixels = np.asarray(iio.imread(path), dtype=np.float32) / 255.0
    pixels = pixels[..., :3] if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    x = F.interpolate(x, size=tuple(shape[-2:]), mode="bilinear", align_corners=False)
    tensor = x[:, : shape[1]] if shape[1] <= 3 else x.expand(-1, shape[1], -1, -1)
    return (tensor - 0.5) / 0.25
