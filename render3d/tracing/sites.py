"""Where an op ran inside its module's ``forward``: the Python calls and loop iterations in between.

Why: ops that run outside any submodule (Mask R-CNN's mask pasting, SSD's ``postprocess_detections``,
RAFT's refinement loop) all land in one module scope, so depth collapse cannot group them. Their call
sites can. Every recorded op and module call gets a *site*: the function invocations
(``"postprocess()#1"``) and loop iterations (``"forward·loop#3"``) between the enclosing container's
``forward`` and the op, outermost first. :mod:`render3d.passes.callsites` turns sites into blocks.

How, cheaply: a ``sys._getframe`` walk from the op up to the nearest ``nn.Module`` call frame, skipping
torch's, the standard library's and render3d's own frames. Invocations are told apart by frame
identity (the frames of the previous event are held, so a new call can never reuse one); loop
iterations by the frame's bytecode offset going back, or the same instruction running again, inside a
loop's range (backward jumps read with :mod:`dis`, once per code object). Element numbers count per
parent site, so the same model traced twice gives the same sites.
"""

from __future__ import annotations

import dis
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from types import CodeType, FrameType

import torch
from torch import nn

import render3d

#: frames of ``nn.Module.__call__``: a walk up from an op stops at the first one (its module's forward is below)
_CALL_IMPL = nn.Module._call_impl.__code__
_BOUNDARIES = frozenset(
    [_CALL_IMPL, nn.Module._wrapped_call_impl.__code__]
    + [c for c in _CALL_IMPL.co_consts if isinstance(c, CodeType) and c.co_name == "inner"]
)
_LIBRARY_DIRS = tuple(os.path.dirname(f) + os.sep for f in (torch.__file__, render3d.__file__) if f is not None)
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
LOOP = "loop"

Site = tuple[str, ...]


@dataclass
class _Loop:
    """One loop of one running frame: where the last event was and which iteration it belongs to."""

    offset: int  # effective bytecode offset of the last event (an inner loop counts as its start)
    child: FrameType | None  # the frame the last event came through (None: a nested loop's event)
    element: str  # this iteration's site element


@dataclass
class _Level:
    """One user frame of the previous event's chain, with its invocation element and loop states."""

    frame: FrameType
    element: str | None  # None for the scope's own forward and for comprehension/lambda frames
    owner: _Level | None  # the nearest named frame (its name prefixes loop names)
    loops: dict[int, _Loop] = field(default_factory=dict)
    loop_names: dict[tuple[CodeType, int], str] = field(default_factory=dict)


@dataclass
class _Context:
    """Site state of one open module call: the last chain seen and the element counters."""

    levels: list[_Level] = field(default_factory=list)
    counts: dict[tuple[Site, str], int] = field(default_factory=dict)

    def number(self, prefix: Site, name: str) -> str:
        n = self.counts[prefix, name] = self.counts.get((prefix, name), 0) + 1
        return f"{name}#{n}"


_SKIP: dict[CodeType, bool] = {}
_LOOPS: dict[CodeType, tuple[tuple[int, int], ...]] = {}


def _skipped(code: CodeType) -> bool:
    """Library frames say nothing about the model's own code: torch, render3d, the standard library."""
    hit = _SKIP.get(code)
    if hit is None:
        name = code.co_filename
        hit = _SKIP[code] = (
            name.startswith(_LIBRARY_DIRS)
            or name.startswith("<frozen")
            or (name.startswith(_STDLIB) and "-packages" not in name)
        )
    return hit


def _loops(code: CodeType) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` bytecode ranges of the code's loops, outermost first (a backward jump closes one)."""
    found = _LOOPS.get(code)
    if found is None:
        ends: dict[int, int] = {}
        for ins in dis.get_instructions(code):
            if "BACKWARD" in ins.opname and isinstance(ins.argval, int):
                ends[ins.argval] = max(ends.get(ins.argval, 0), ins.offset)
        found = _LOOPS[code] = tuple(sorted(ends.items(), key=lambda r: (r[0], -r[1])))
    return found


def _chain(frame: FrameType | None, child: FrameType) -> list[tuple[FrameType, FrameType]]:
    """``(user frame, the frame right below it)`` from the module's forward down to ``frame``, whose own
    child is ``child`` (a frame new for every event, so an instruction run twice is seen as such)."""
    out = []
    while frame is not None and frame.f_code not in _BOUNDARIES:
        if not _skipped(frame.f_code):
            out.append((frame, child))
        child, frame = frame, frame.f_back
    out.reverse()
    return out


class SiteTracker:
    """Computes sites for a tracer: one context per open module call, parallel to its module stack."""

    def __init__(self) -> None:
        self.contexts: list[_Context] = [_Context()]

    def op_site(self) -> Site:
        """The site of the op being recorded (call from the ``TorchFunctionMode`` handler)."""
        handler = sys._getframe(1)
        return self._site(self.contexts[-1], _chain(handler.f_back, handler))

    def enter(self) -> Site:
        """The site of the module call starting now (call from its forward pre-hook); opens its context."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code is not _CALL_IMPL:
            frame = frame.f_back
        while frame is not None and frame.f_back is not None and frame.f_back.f_code in _BOUNDARIES:
            frame = frame.f_back  # Module.__call__ -> _wrapped_call_impl -> _call_impl: start at the caller
        site = self._site(self.contexts[-1], _chain(frame.f_back, frame)) if frame is not None else ()
        self.contexts.append(_Context())
        return site

    def exit(self) -> None:
        """Close the context opened by the matching :meth:`enter`."""
        if len(self.contexts) > 1:
            self.contexts.pop()

    # --- one event ---------------------------------------------------------------------------
    def _site(self, ctx: _Context, chain: list[tuple[FrameType, FrameType]]) -> Site:
        site: list[str] = []
        levels: list[_Level] = []
        fresh = False  # once one level is new (or starts a new iteration), every deeper one is new
        for depth, (frame, child) in enumerate(chain):
            old = ctx.levels[depth] if depth < len(ctx.levels) and not fresh else None
            if old is not None and old.frame is frame:
                level = old
            else:
                fresh = True
                named = not frame.f_code.co_name.startswith("<")
                element = ctx.number(tuple(site), frame.f_code.co_name + "()") if depth and named else None
                owner = None if named else (levels[-1].owner if levels else None)
                level = _Level(frame, element, owner)
                if named:
                    level.owner = level
            if level.element is not None:
                site.append(level.element)
            fresh = self._loop_elements(ctx, level, frame.f_lasti, child, site, fresh)
            levels.append(level)
        ctx.levels = levels
        return tuple(site)

    def _loop_elements(
        self, ctx: _Context, level: _Level, offset: int, child: FrameType, site: list[str], fresh: bool
    ) -> bool:
        """Append the iteration elements of the loops ``offset`` is in; True if an iteration is new."""
        code = level.frame.f_code
        inside = [r for r in _loops(code) if r[0] <= offset <= r[1]]
        for start in [s for s in level.loops if not any(s == r[0] for r in inside)]:
            del level.loops[start]  # left that loop
        for k, (start, _) in enumerate(inside):
            direct = k == len(inside) - 1
            at = offset if direct else inside[k + 1][0]
            state = level.loops.get(start)
            new = (
                fresh
                or state is None
                or at < state.offset
                or (at == state.offset and direct and child is not state.child)
            )
            if new or state is None:  # (state is None implies new; said again for the type checker)
                fresh = True
                for s, _ in inside[k + 1 :]:
                    level.loops.pop(s, None)
                state = level.loops[start] = _Loop(at, None, ctx.number(tuple(site), self._loop_name(level, start)))
            state.offset, state.child = at, child if direct else None
            site.append(state.element)
        return fresh

    @staticmethod
    def _loop_name(level: _Level, start: int) -> str:
        """``forward·loop``, ``forward·loop2``, ...: loops numbered by first use in their named function."""
        owner = level.owner or level
        key = (level.frame.f_code, start)
        name = owner.loop_names.get(key)
        if name is None:
            k = len(owner.loop_names) + 1
            fn = owner.frame.f_code.co_name
            name = owner.loop_names[key] = f"{fn}·{LOOP}{k if k > 1 else ''}"
        return name
