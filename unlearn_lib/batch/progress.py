"""What the batch shows while it runs: one tqdm bar over all tasks, and a per-cell line in each task's log."""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

__all__ = ["CellProgress", "TaskBar"]


class CellProgress:
    """One notebook's progress line, ``[batch] NAME  cell k/N  Ts``.

    On a terminal the line is redrawn in place (``\\r``) every second, so a long cell still shows time
    passing; in a log (not a TTY: a task's ``task.log``) one line is written per finished cell.
    """

    def __init__(self, name: str, stream: TextIO | None = None, live: bool | None = None, interval: float = 1.0) -> None:
        self.name = name
        self.stream = stream if stream is not None else sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.done, self.total = 0, 0
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def line(self) -> str:
        total = self.total or "?"
        return f"[batch] {self.name}  cell {self.done}/{total}  {time.perf_counter() - self.start:.0f}s"

    def _draw(self) -> None:
        with self._lock:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def __call__(self, done: int, total: int) -> None:
        """The engine's callback: ``done`` of ``total`` cells have finished."""
        self.done, self.total = done, total
        if self.live:
            self._draw()
        elif done:
            with self._lock:
                print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> CellProgress:
        self.start = time.perf_counter()
        if self.live:
            self._draw()
            self._ticker = threading.Thread(target=self._tick, name=f"progress-{self.name}", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.live:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


class TaskBar:
    """The batch's one progress view.

    On a terminal: a tqdm bar over every task, its postfix counting done / running / failed / cached, and
    one printed line per task event. In a log (the stream is not a TTY), no bar: only the event lines, and
    a heartbeat line (the counts and the elapsed time) at most every ``heartbeat`` seconds, so that a long
    task leaves a readable log instead of thousands of carriage-return redraws."""

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None, heartbeat: float = 60.0) -> None:
        from tqdm.auto import tqdm

        self.stream = stream if stream is not None else sys.stderr
        self.counts = {"done": 0, "running": 0, "failed": 0, "cached": 0}
        self.total = total
        self.live = enabled and _isatty(self.stream)
        self.bar = tqdm(total=total, desc="[batch] tasks", unit="task", file=self.stream, disable=not self.live, dynamic_ncols=True)
        self.enabled = enabled
        self.heartbeat = heartbeat
        self.start = self.last_beat = time.monotonic()

    def update(self, **counts: int) -> None:
        """Set any of done / running / failed / cached; the bar advances to done + failed."""
        self.counts.update(counts)
        finished = self.counts["done"] + self.counts["failed"]
        if self.live:
            if finished > self.bar.n:
                self.bar.update(finished - self.bar.n)
            self.bar.set_postfix(self.counts, refresh=True)
            return
        now = time.monotonic()
        if self.enabled and self.counts["running"] and now - self.last_beat >= self.heartbeat:
            self.last_beat = now
            state = ", ".join(f"{v} {k}" for k, v in self.counts.items())
            print(f"[batch] {finished}/{self.total} tasks finished ({state}) after {now - self.start:.0f}s", file=sys.stdout, flush=True)

    def write(self, line: str) -> None:
        """A line above the bar (or plain, when there is no bar)."""
        if self.live:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=sys.stdout, flush=True)

    def close(self) -> None:
        self.bar.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@functools.cache
def progress_engine() -> str:
    """Register (once) a papermill engine that reports per-cell progress and starts the kernel with a
    given environment, and records the modules the kernel ran when given ``modules_file``; returns its name.

    papermill's own ``progress_bar`` is a tqdm bar that is unreadable in a log. Its nbclient engine calls
    the execution manager's ``cell_complete`` after every cell (code or markdown, failed or not) and the
    manager holds the parameterized notebook, so wrapping that one method gives ``(done, total)`` exactly.
    The kernel's environment and working directory are passed to ``start_kernel(env=..., cwd=...)`` rather
    than set in ``os.environ`` or by ``chdir``, so tasks that share a worker process cannot race on them.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    from ..codekeys import PACKAGE, RECORD_MODULES

    class RecordingClient(PapermillNotebookClient):
        """Runs the notebook's cells, then (same kernel, before it shuts down) one silent cell that writes
        the ``unlearn_lib`` modules the kernel imported to ``modules_file``: what the task's key follows."""

        modules_file: str = ""

        def papermill_execute_cells(self) -> None:
            super().papermill_execute_cells()
            code = RECORD_MODULES.format(path=self.modules_file, package=PACKAGE)
            reply = self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
            if not reply or reply["content"].get("status") != "ok":
                content = (reply or {}).get("content", {})
                raise RuntimeError(f"recording the modules the task ran failed: {content.get('ename')}: {content.get('evalue')}")

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            progress: Callable[[int, int], None] | None = None,
            modules_file: str | None = None,
            kernel_env: Mapping[str, str] | None = None,
            kernel_cwd: str | None = None,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            if progress is not None:
                total = len(nb_man.nb.cells)
                cell_complete = nb_man.cell_complete

                def complete_and_report(cell, cell_index=None, **kw):
                    cell_complete(cell, cell_index=cell_index, **kw)
                    progress((cell_index or 0) + 1, total)

                nb_man.cell_complete = complete_and_report
                progress(0, total)
            # As NBClientEngine.execute_managed_notebook (papermill 2.x), plus the kernel's environment.
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = (RecordingClient if modules_file else PapermillNotebookClient)(nb_man, **final_kwargs)
            if modules_file:
                client.modules_file = modules_file
            start: dict[str, Any] = {} if kernel_env is None else {"env": dict(kernel_env)}
            if kernel_cwd is not None:
                start["cwd"] = kernel_cwd
            return client.execute(**start)

    name = "unlearn_lib.batch"
    papermill_engines.register(name, ProgressEngine)
    return name
