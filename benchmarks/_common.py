"""Shared helpers for the benchmark scripts: whole-process measurement, medians, machine facts, tables.

Not a benchmark itself. Every whole-process number in this folder comes from :func:`measure_process`:
a fresh interpreter per run, wall time and peak RSS from GNU ``/usr/bin/time -f "%e %M"`` (written to
its own file, so the measured program's stderr stays clean), or from psutil polling where GNU time is
missing. A run that fails is returned with its exit code / signal and last error line, never raised.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None


def headless_env(**extra: str) -> dict[str, str]:
    """The environment every measured process gets: offscreen pyvista, one seed, no display."""
    env = dict(os.environ)
    env.update(PYVISTA_OFF_SCREEN="true", PYTHONHASHSEED="0", PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    env.update(extra)
    return env


@dataclass
class ProcResult:
    cmd: list[str]
    wall_s: float
    peak_rss_mb: float
    rc: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    @property
    def how_failed(self) -> str:
        """'exit 1: ValueError: ...', 'SIGSEGV (exit 139)', 'timeout after 300 s' — for the table."""
        if self.timed_out:
            return f"timeout after {self.wall_s:.0f} s"
        if self.rc == 0:
            return "ok"
        if self.rc < 0 or self.rc > 128:
            num = -self.rc if self.rc < 0 else self.rc - 128
            try:
                name = signal.Signals(num).name
            except ValueError:
                name = f"signal {num}"
            head = f"{name} (exit {128 + num})"
        else:
            head = f"exit {self.rc}"
        return f"{head}: {last_error_line(self.stderr)}" if last_error_line(self.stderr) else head


def last_error_line(text: str) -> str:
    """The last line of ``text`` that looks like an error (not a progress bar, not a VTK warning)."""
    lines = [
        ln.strip()
        for ln in text.replace("\r", "\n").splitlines()
        if ln.strip() and "it/s" not in ln and "it [" not in ln and "%|" not in ln
    ]
    for ln in reversed(lines):
        if ("Error" in ln or "error" in ln or "Exception" in ln or "Segmentation" in ln) and "WARN" not in ln:
            return ln[:160]
    return lines[-1][:160] if lines else ""


def measure_process(
    cmd: list[str],
    *,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ProcResult:
    """Run ``cmd`` in a fresh process; wall time (s) and peak RSS (MiB) of that process."""
    env = env or headless_env()
    if GNU_TIME:
        with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
            time_file = tf.name
        full = [GNU_TIME, "-o", time_file, "-f", "%e %M", *cmd]
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                full, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, errors="replace"
            )
        except subprocess.TimeoutExpired as exc:
            Path(time_file).unlink(missing_ok=True)
            return ProcResult(
                cmd,
                time.perf_counter() - start,
                float("nan"),
                124,
                _text(exc.stdout),
                _text(exc.stderr),
                timed_out=True,
            )
        wall = time.perf_counter() - start
        rss_mb = float("nan")
        rc = proc.returncode
        try:
            lines = Path(time_file).read_text().strip().splitlines()
            # GNU time prints "Command terminated by signal 11" / "exited with non-zero status" first.
            for ln in lines:
                if ln.startswith("Command terminated by signal"):
                    rc = 128 + int(ln.rsplit(" ", 1)[1])
            e, m = lines[-1].split()
            wall, rss_mb = float(e), int(m) / 1024
        except (OSError, ValueError, IndexError):
            pass
        finally:
            Path(time_file).unlink(missing_ok=True)
        return ProcResult(cmd, wall, rss_mb, rc, proc.stdout, proc.stderr)
    return _measure_psutil(cmd, timeout=timeout, env=env, cwd=cwd)


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode("utf-8", "replace")


def _measure_psutil(cmd, *, timeout, env, cwd) -> ProcResult:
    """Fallback without GNU time: poll the RSS of the process tree every 20 ms."""
    import psutil

    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, text=True)
    peak, timed_out = 0, False
    while proc.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        if time.perf_counter() - start > timeout:
            proc.kill()
            timed_out = True
            break
        time.sleep(0.02)
    rc = proc.wait()
    wall = time.perf_counter() - start
    out.seek(0)
    err.seek(0)
    return ProcResult(cmd, wall, peak / 2**20, 124 if timed_out else rc, out.read(), err.read(), timed_out)


#: ``--clock`` of the timing scripts: wall seconds, or this process's CPU seconds (on a loaded machine wall
#: time mostly measures the wait for a core)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def interleaved(variants: dict, rounds: int, clock=time.perf_counter) -> dict[str, list[float]]:
    """Seconds of every variant in every round: one warm-up call each (allocator, lazy imports), then
    ``rounds`` rounds, each running every variant once in a shuffled order (on a shared machine,
    back-to-back blocks of runs would measure the neighbours, not the variants)."""
    import random

    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        order = list(variants)
        random.shuffle(order)
        for key in order:
            start = clock()
            variants[key]()
            times[key].append(clock() - start)
    return times


def median(values) -> float:
    vals = [v for v in values if v == v]  # drop NaN
    return statistics.median(vals) if vals else float("nan")


def fmt_s(v: float) -> str:
    return "—" if v != v else (f"{v:.2f} s" if v < 10 else f"{v:.1f} s")


def fmt_mb(v: float) -> str:
    return "—" if v != v else (f"{v / 1024:.2f} GB" if v >= 1024 else f"{v:.0f} MB")


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> str:
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        mem = "? RAM"
    return f"{cpu_model()}, {os.cpu_count()} logical cores, {mem}, {platform.system()} {platform.release()}"


def gl_renderer() -> str:
    """The OpenGL renderer string, read in a subprocess (a broken GL must not take us down)."""
    code = (
        "import pyvista as pv; p = pv.Plotter(off_screen=True, window_size=(8, 8)); p.show(auto_close=False); "
        "import re; s = p.render_window.ReportCapabilities(); "
        "m = re.search(r'renderer string:\\s*(.+)', s); print(m.group(1) if m else '?')"
    )
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=headless_env())
        return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "unavailable"
    except (subprocess.TimeoutExpired, OSError):
        return "unavailable"


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in (
        "render3d",
        "torch",
        "torchvision",
        "pyvista",
        "vtk",
        "numpy",
        "visualtorch",
        "torchview",
        "graphviz",
        "torchrender3d",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    dot = shutil.which("dot")
    if dot:
        try:
            r = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=10)
            out["dot"] = (r.stderr or r.stdout).strip().split("version")[-1].strip().split()[0]
        except (subprocess.TimeoutExpired, OSError, IndexError):
            out["dot"] = "installed"
    else:
        out["dot"] = "not installed"
    return out
