"""Safe checkpoint loading: find checkpoint files, read a state_dict from any common layout, fit it to a model.

Unless the caller passes ``trust_pickle=True`` (the CLI's ``--trust-pickle``), only the globals
``torch.load(weights_only=True)`` allows are ever resolved, because unpickling an arbitrary file can run
arbitrary code. Every ``torch.save`` format is read: zip and legacy files, pickle protocols 2 to 5 (torch's
own weights-only unpickler stops at protocol 3+ opcodes, so those go through the standard unpickler with
the same allowlist). Every failure is a one-line :class:`~render3d.errors.CheckpointError` that names the
file and says which of "not a checkpoint", "truncated", "needs --trust-pickle" or "does not fit" it is; a
failed load leaves the model untouched: the checkpoint is checked against ``model.state_dict()`` before
anything is copied.

Layouts understood by :func:`read_state_dict`:

- a raw ``state_dict`` (``torch.save(model.state_dict(), path)``);
- a dict holding one under ``state_dict`` (Lightning), ``model_state_dict`` or ``model``;
- a ``.safetensors`` file;
- a pickled ``nn.Module`` (only with ``trust_pickle=True``).

:func:`load_checkpoint` also strips the ``model.`` (Lightning), ``module.`` (DataParallel) and ``_orig_mod.``
(``torch.compile``) prefixes when at least half the keys carry one and the stripped keys fit the model.
"""

from __future__ import annotations

import glob
import io
import os
import pickle
import re
import types
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from render3d.atomic import atomic_path
from render3d.errors import CheckpointError

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "Checkpoint",
    "find_checkpoints",
    "load_checkpoint",
    "read_checkpoint",
    "read_object",
    "read_state_dict",
    "save_checkpoint",
]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
_STRIP_PREFIXES = ("model.", "module.", "_orig_mod.")
_SHOW = 3  # names listed per category in a mismatch message
_UNSAFE_PATTERNS = (
    re.compile(r"GLOBAL (\S+) was not an allowed global"),
    re.compile(r"whose module (\S+) is blocked"),
    re.compile(r"(\S+) must be \S+ to load"),
)


# --------------------------------------------------------------------------------------------- finding


def find_checkpoints(dir_or_glob: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files in a directory, or matching a glob pattern, in natural order.

    A directory yields its files (not sub-directories, not dot-files) whose suffix is one of
    :data:`CHECKPOINT_SUFFIXES`; a glob pattern (``**`` allowed) yields the matching files with those suffixes.
    Natural order compares digit runs as numbers and ignores case: ``epoch_2`` < ``Epoch_3`` < ``epoch_10``.

    Raises :class:`CheckpointError` naming the pattern and the suffixes when nothing is found.
    """
    pattern = os.fspath(dir_or_glob)
    root = Path(pattern)
    if root.is_dir():
        candidates = [p for p in root.iterdir() if not p.name.startswith(".")]
    else:
        candidates = [Path(p) for p in glob.glob(pattern, recursive=True)]
    found = [p for p in candidates if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES]
    if not found:
        where = "directory" if root.is_dir() else "pattern"
        msg = f"no checkpoints found for {where} '{pattern}' (looked for {', '.join(CHECKPOINT_SUFFIXES)})"
        raise CheckpointError(msg)
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> tuple[list[Any], str]:
    # re.split with a capturing group alternates text (even indices) and digit runs (odd indices),
    # so the lists compare str with str and int with int.
    parts = re.split(r"(\d+)", str(path))
    return [int(part) if i % 2 else part.casefold() for i, part in enumerate(parts)], str(path)


# --------------------------------------------------------------------------------------------- reading


def read_state_dict(path: str | os.PathLike[str], *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The tensors stored in a checkpoint, unwrapped from its layout (keys are returned as stored).

    Prefixes such as ``model.`` are kept here; :func:`load_checkpoint` strips them when they fit the model.
    With ``trust_pickle=False`` (the default) a file that needs arbitrary unpickling is refused.
    """
    path = Path(path)
    obj = read_object(path, trust_pickle=trust_pickle)
    return _unwrap(obj, path)


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file, read once: its weights and the plain numbers saved beside them
    (``save_checkpoint(model, p, epoch=3, loss=0.4)``: ``{"epoch": 3, "loss": 0.4}``)."""

    path: Path
    #: the stored tensors, unwrapped from the file's layout, keys as stored (see :func:`read_state_dict`)
    state: dict[str, torch.Tensor]
    #: top-level int/float entries of a saved dict, or numeric metadata of a ``.safetensors`` file
    metrics: dict[str, float | int]

    def load_into(self, model: nn.Module, *, strict: bool = True) -> nn.Module:
        """Copy the weights into ``model`` in place, checked first as :func:`load_checkpoint` does."""
        return _load_state(model, self.state, self.path, strict=strict)


def read_checkpoint(path: str | os.PathLike[str], *, trust_pickle: bool = False) -> Checkpoint:
    """Read ``path`` once (as safely as :func:`read_state_dict`) into its weights and metrics."""
    path = Path(path)
    obj, metadata = _read(path, trust_pickle=trust_pickle)
    return Checkpoint(path, _unwrap(obj, path), {**_plain_numbers(obj), **_text_numbers(metadata)})


def _plain_numbers(obj: Any) -> dict[str, float | int]:
    if not isinstance(obj, Mapping):
        return {}
    return {str(k): v for k, v in obj.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _text_numbers(metadata: Mapping[str, str]) -> dict[str, float | int]:
    """The entries of safetensors metadata (all strings) that read as numbers; ``"3"`` stays an int."""
    out: dict[str, float | int] = {}
    for k, v in metadata.items():
        try:
            number = float(v)
        except ValueError:  # a text entry ("format": "pt"), not a metric
            continue
        out[k] = int(number) if number.is_integer() and "." not in v else number
    return out


def read_object(path: str | os.PathLike[str], *, trust_pickle: bool = False) -> Any:
    """Whatever a checkpoint file holds (a dict, a state_dict, a module), read as safely as
    :func:`read_state_dict` reads it; zip files are memory-mapped, so reading is cheap."""
    return _read(Path(path), trust_pickle=trust_pickle)[0]


def _read(path: Path, *, trust_pickle: bool) -> tuple[Any, dict[str, str]]:
    """What :func:`read_object` returns, and a ``.safetensors`` file's metadata (``{}`` for other files)."""
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; pass one file (or use find_checkpoints)")
    kind, protocol = _sniff(path)
    if kind == "safetensors":
        return _read_safetensors(path)
    if kind == "pickle":
        return _read_plain_pickle(path, trust_pickle=trust_pickle), {}
    options: dict[str, Any] = {"map_location": "cpu", "mmap": kind == "zip"}  # legacy files cannot be memory-mapped
    try:
        if trust_pickle:
            return torch.load(path, weights_only=False, **options), {}
        if protocol > 2:  # torch's weights_only unpickler stops at protocol 3+ opcodes (FRAME, MEMOIZE)
            return torch.load(path, weights_only=False, pickle_module=_allowlist_pickle, **options), {}
        return torch.load(path, weights_only=True, **options), {}
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(path, str(exc)) if not trust_pickle else None
        if unsafe is not None:
            msg = (
                f"refusing to load {path}: it needs arbitrary unpickling ({unsafe}), which can run code; "
                "pass --trust-pickle (trust_pickle=True) only if you trust where the file came from"
            )
            raise CheckpointError(msg) from None
        raise CheckpointError(_unreadable(path, exc)) from exc
    except Exception as exc:  # torch.load reports a damaged file as RuntimeError, EOFError, KeyError, OSError...
        raise CheckpointError(_unreadable(path, exc)) from exc


# the first pickle of a legacy (pre-zip) torch.save file is this number, as a LONG1 opcode
_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "gzip data"),
    (b"%PDF", "a PDF document"),
    (b"\x93NUMPY", "a NumPy .npy array"),
)


def _sniff(path: Path) -> tuple[str, int]:
    """``(kind, pickle protocol)`` from the file's first bytes: ``zip``, ``legacy`` (torch.save),
    ``pickle`` (plain) or ``safetensors``; anything else is refused here as not a checkpoint."""
    if path.suffix.lower() == ".safetensors":
        return "safetensors", 0
    with path.open("rb") as f:
        head = f.read(64)
    if head[:4] == b"PK\x03\x04":
        return "zip", _zip_protocol(path)
    if head[:1] == b"\x80" and head[1:2] and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return ("legacy" if _LEGACY_MAGIC in head[:32] else "pickle"), head[1]
    if len(head) > 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 27):
        return "safetensors", 0
    raise CheckpointError(
        f"{path} is not a checkpoint: it is {_describe(head)}, not a file written by torch.save or safetensors"
    )


def _zip_protocol(path: Path) -> int:
    """The pickle protocol of a torch zip checkpoint's ``data.pkl``."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                raise CheckpointError(
                    f"{path} is not a checkpoint: it is a zip archive without data.pkl (torch.save writes one)"
                )
            with archive.open(name) as member:
                head = member.read(2)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise CheckpointError(
            f"checkpoint {path} is truncated: its zip directory is missing (was the copy or download cut short?)"
        ) from None
    return head[1] if head[:1] == b"\x80" and len(head) == 2 else 2


def _describe(head: bytes) -> str:
    if not head:
        return "an empty file"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:  # (a multi-byte character cut at byte 64 lands here too: rare, harmless)
        return f"unknown data (starting {head[:8].hex(' ')})"


def _read_plain_pickle(path: Path, *, trust_pickle: bool) -> Any:
    """A pickle not written by torch.save: torch.load cannot read it, and only full unpickling can."""
    if not trust_pickle:
        raise CheckpointError(
            f"refusing to load {path}: it is a plain pickle (not written by torch.save), which only full "
            "unpickling can read and which can run code; pass --trust-pickle (trust_pickle=True) only if you "
            "trust where the file came from"
        )
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - the caller trusts this file
    except Exception as exc:
        raise CheckpointError(_unreadable(path, exc)) from exc


class _AllowlistUnpickler(pickle.Unpickler):
    """The standard unpickler (every protocol), resolving only the globals ``weights_only=True`` allows."""

    def find_class(self, module: str, name: str) -> Any:
        from torch._weights_only_unpickler import _get_allowed_globals, _get_user_allowed_globals

        allowed = _get_allowed_globals() | _get_user_allowed_globals()
        found = allowed.get(f"{module}.{name}")
        if found is None:
            raise pickle.UnpicklingError(f"GLOBAL {module}.{name} was not an allowed global")
        return found


def _allowlist_load(file: Any, **kwargs: Any) -> Any:
    return _AllowlistUnpickler(file, **kwargs).load()


#: the ``pickle_module`` torch.load uses for protocol 3-5 files when the caller does not trust them
_allowlist_pickle = types.SimpleNamespace(
    __name__="render3d_allowlist_pickle", Unpickler=_AllowlistUnpickler, load=_allowlist_load
)


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:  # one open: tensors and metadata
            return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(_unreadable(path, exc)) from exc


def _unsafe_globals(path: Path, message: str) -> str | None:
    """The globals a weights_only refusal complained about, or None if the refusal means a damaged file."""
    match = next((m for p in _UNSAFE_PATTERNS if (m := p.search(message))), None)
    if match is None:
        return None
    try:  # lists every offending global without executing anything (zip-format files only)
        names = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # a legacy or pickle-3+ file it cannot list: the message's one name is still right
        names = []
    if not names:
        names = [match.group(1)]
    shown = ", ".join(names[:_SHOW])
    return shown + (f", +{len(names) - _SHOW} more" if len(names) > _SHOW else "")


def _unreadable(path: Path, exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    first = lines[0].split(". ")[0][:160] if lines else ""  # torch appends paragraphs of advice
    reason = type(exc).__name__ + (f": {first}" if first else "")
    if isinstance(exc, (ImportError, AttributeError)):  # a trusted pickle naming code that is gone
        return f"cannot unpickle checkpoint {path}: {reason}"
    if _cut_short(exc):
        return f"checkpoint {path} is truncated: it ends early (was the copy or download cut short?): {reason}"
    return f"cannot read checkpoint {path} (corrupt?): {reason}"


def _cut_short(exc: BaseException) -> bool:
    """Whether a load error means the data ended early (a copy or download cut short)."""
    text = str(exc).lower()
    signs = ("eof", "truncated", "ran out of input", "not fully covered", "header too small")
    return isinstance(exc, (EOFError, OSError)) or any(sign in text for sign in signs)


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, nn.Module):  # a pickled full model (trust_pickle only)
        return dict(obj.state_dict())
    if isinstance(obj, Mapping):
        if _is_state_dict(obj):
            return dict(obj)
        for key in _WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, nn.Module) or (isinstance(inner, Mapping) and _is_state_dict(inner)):
                return _unwrap(inner, path)
        keys = ", ".join(repr(k) for k in list(obj)[:6]) + (", ..." if len(obj) > 6 else "")
        wanted = ", ".join(repr(k) for k in _WRAPPER_KEYS)
        msg = f"checkpoint {path} holds a dict ({keys}) with no state_dict under {wanted}"
        raise CheckpointError(msg)
    msg = f"checkpoint {path} holds a {type(obj).__name__}, not a state_dict"
    raise CheckpointError(msg)


def _is_state_dict(obj: Mapping[Any, Any]) -> bool:
    return all(
        isinstance(k, str) and (isinstance(v, torch.Tensor) or k.endswith("_extra_state")) for k, v in obj.items()
    )


# --------------------------------------------------------------------------------------------- loading


def load_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], *, trust_pickle: bool = False, strict: bool = True
) -> nn.Module:
    """Load a checkpoint's weights into ``model`` in place and return ``model``.

    With ``strict=True`` every model key must be present, no extra key may be, and shapes must agree; any
    difference raises one :class:`CheckpointError` listing them. With ``strict=False`` missing and unexpected
    keys are allowed, but shape mismatches are not, nor a checkpoint sharing no key with the model.
    On any error the model is left unchanged.

    Examples
    --------
    >>> from render3d.models import SeedCNN
    >>> model = load_checkpoint(SeedCNN(), "runs/epoch_10.pt")  # doctest: +SKIP
    """
    path = Path(path)
    return _load_state(model, read_state_dict(path, trust_pickle=trust_pickle), path, strict=strict)


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path, *, strict: bool) -> nn.Module:
    """Check ``state`` (read from ``path``) against ``model``, then copy it in; see :func:`load_checkpoint`."""
    target = model.state_dict()
    state = _strip_prefixes(state, target.keys())

    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}"
        for k, v in state.items()
        if k in target
        and isinstance(v, torch.Tensor)
        and not nn.parameter.is_lazy(target[k])
        and v.shape != target[k].shape
    ]
    no_overlap = bool(target) and len(missing) == len(target)
    if mismatched or no_overlap or (strict and (missing or unexpected)):
        parts = [
            _listing(len(missing), "missing", missing),
            _listing(len(unexpected), "unexpected", unexpected),
            _listing(len(mismatched), "shape mismatch" + ("es" if len(mismatched) > 1 else ""), mismatched),
        ]
        msg = f"{path} does not fit {type(model).__name__}: " + ", ".join(p for p in parts if p)
        raise CheckpointError(msg)

    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # not expected after the checks above; keep it one line anyway
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not fit {type(model).__name__}: {first}") from exc
    return model


def _listing(count: int, label: str, names: list[str]) -> str:
    if not count:
        return ""
    shown = ", ".join(names[:_SHOW]) + (f", +{count - _SHOW} more" if count > _SHOW else "")
    return f"{count} {label} ({shown})"


def _strip_prefixes(state: dict[str, torch.Tensor], model_keys: Iterable[str]) -> dict[str, torch.Tensor]:
    """The view of ``state`` whose keys best fit the model, after stripping wrapper prefixes.

    Views are built by repeatedly stripping a known prefix carried by at least half the keys (keys without
    it are dropped from that view: a Lightning module's loss weights, say). An exact fit wins; otherwise the
    view sharing most keys with the model; ties go to the less-stripped view, so keys stay as stored.
    """
    wanted = set(model_keys)
    views = [state]
    frontier = [state]
    for _ in range(len(_STRIP_PREFIXES)):  # e.g. "module._orig_mod.model." at most
        nxt = []
        for view in frontier:
            for prefix in _STRIP_PREFIXES:
                carried = [k for k in view if k.startswith(prefix)]
                if carried and 2 * len(carried) >= len(view):
                    nxt.append({k[len(prefix) :]: view[k] for k in carried})
        views += nxt
        frontier = nxt

    def overlap(view: dict[str, torch.Tensor]) -> tuple[bool, int]:
        return set(view) == wanted, len(wanted.intersection(view))

    best = max(range(len(views)), key=lambda i: (*overlap(views[i]), -i))
    return views[best]


# --------------------------------------------------------------------------------------------- saving


def save_checkpoint(
    model_or_state_dict: nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike[str], **extra: Any
) -> Path:
    """Write ``{"state_dict": ..., **extra}`` to ``path`` atomically (temp file + ``os.replace``).

    ``extra`` values must survive ``torch.load(weights_only=True)`` (numbers, strings, lists, dicts, tensors),
    so that the file loads without ``--trust-pickle``; anything else raises ``TypeError`` before writing.
    A ``.safetensors`` path stores the tensors only, with ``extra`` as string metadata. Parent folders are
    created. Returns the path written.

    Examples
    --------
    >>> save_checkpoint(model, out / f"epoch_{epoch}.pt", epoch=epoch, loss=float(loss))  # doctest: +SKIP
    """
    path = Path(path)
    if isinstance(model_or_state_dict, nn.Module):
        state = dict(model_or_state_dict.state_dict())
    else:
        state = dict(model_or_state_dict)
    if "state_dict" in extra:
        raise TypeError("save_checkpoint: 'state_dict' is reserved; pass the weights as the first argument")

    as_safetensors = path.suffix.lower() == ".safetensors"
    if as_safetensors:
        bad = [k for k, v in extra.items() if not isinstance(v, (str, int, float, bool))]
        if bad:
            kind = type(extra[bad[0]]).__name__
            msg = f"save_checkpoint: .safetensors metadata must be str/int/float/bool; got {bad[0]!r}: {kind}"
            raise TypeError(msg)
    else:
        _check_weights_only(extra)

    # a dot-name without a checkpoint suffix, so find_checkpoints never lists a half-written file
    with atomic_path(path) as tmp:
        if as_safetensors:
            from safetensors.torch import save_file

            # clone: safetensors refuses tensors that share storage (tied weights)
            tensors = {k: v.detach().clone().contiguous() for k, v in state.items()}
            save_file(tensors, tmp, metadata={k: str(v) for k, v in extra.items()})
        else:
            torch.save({"state_dict": state, **extra}, tmp)
    return path


def _check_weights_only(extra: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(extra, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except pickle.UnpicklingError as exc:
        match = next((m for p in _UNSAFE_PATTERNS if (m := p.search(str(exc)))), None)
        what = match.group(1) if match else "an object"
        msg = (
            f"save_checkpoint: extra values hold {what}, which would need --trust-pickle to load; "
            "pass plain Python values (float(x), x.item(), vars(args))"
        )
        raise TypeError(msg) from None
