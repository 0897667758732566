"""A papermill engine that cannot stall on widget cells: the fix for lost shell replies.

The stall (jupyter/nbclient#312, jupyter/nbconvert#1921, #2003, #2029), as found on ipykernel 6.31 /
7.x, jupyter_client 8.10, nbclient 0.11, pyzmq 27.3, papermill 2.7:

1. nbclient waits for a cell's ``execute_reply`` by awaiting ``poll()`` on the *asyncio* shell socket;
   pyzmq wakes that poll from the socket's ``ZMQ_FD``, which is edge-triggered.
2. While it waits, nbclient mimics a frontend's ``Output`` widget: every output a kernel-side
   ``with output:`` block produces (a guarded widget callback, ``interact``) is echoed back to the
   kernel as a ``comm_msg`` on the **same shell socket**.
3. jupyter_client's ``Session.send`` sends through a *blocking shadow* of that socket, so pyzmq's
   asyncio layer never learns of the send. libzmq processes the socket's pending commands during the
   send, which consumes the edge that announced the arriving reply; nothing re-checks the socket.
4. The reply sits in the socket, the poll is never woken: the cell waits forever, or (with a per-cell
   timeout) exactly until the timeout, after which the final ``poll(0)`` finds the reply and the cell
   counts as fine. Both processes are idle meanwhile (py-spy: the client in ``epoll``, the kernel
   waiting for requests).

The fix: :class:`ShellSafeOutputWidget` sends its echo through the asyncio socket, whose send path
re-checks pending receives (``_schedule_remaining_events``). Nothing else changes: outputs still land
in the widget, its state is still saved in the executed notebook, the kernel still gets the echo.
:class:`ShellSafeEngine` is papermill's nbclient engine with that widget. The kit's notebook runner
uses it; papermill users can too: importing this module registers it as papermill's ``"erts-kit"``
engine. (It is no ``papermill.engine`` entry point on purpose: papermill loads those while its own
``engines`` module is still being imported, which this module needs first.)

Example:
    >>> import papermill
    >>> import erts_kit.course.engine  # registers the engine
    >>> papermill.execute_notebook("in.ipynb", "out.ipynb", engine_name="erts-kit")  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

import nbformat
import zmq.asyncio
from nbclient.exceptions import CellTimeoutError
from nbclient.jsonutil import json_clean
from nbclient.output_widget import OutputWidget
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger as papermill_logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["ENGINE_NAME", "CellTimedOut", "ShellSafeEngine", "ShellSafeNotebookClient", "ShellSafeOutputWidget"]

#: Name under which the engine is registered with papermill (``engine_name=`` / ``--engine``).
ENGINE_NAME = "erts-kit"


class CellTimedOut(CellTimeoutError):
    """A cell ran past the per-cell timeout; names the cell by its index in the source notebook and first line.

    Example:
        >>> str(CellTimedOut(4, "slider.value = 4", 20))
        "cell 4 timed out after 20 s (first line: 'slider.value = 4')"
    """

    def __init__(self, cell_index: int, first_line: str, timeout: float) -> None:
        self.cell_index, self.first_line, self.timeout = cell_index, first_line, timeout
        super().__init__(f"cell {cell_index} timed out after {timeout:g} s (first line: {first_line!r})")


def first_line(source: str) -> str:
    r"""The first non-blank line of a cell's source, stripped (``""`` for an empty cell).

    Example:
        >>> first_line("\n  x = 1\ny = 2")
        'x = 1'
    """
    return next((ln.strip() for ln in source.splitlines() if ln.strip()), "")


class ShellSafeOutputWidget(OutputWidget):
    """nbclient's Output-widget mimic, sending its comm messages where pyzmq's asyncio layer sees them.

    Example:
        >>> issubclass(ShellSafeOutputWidget, OutputWidget)
        True
    """

    def _publish_msg(self, msg_type: str, data: dict[str, Any] | None = None,
                     metadata: dict[str, Any] | None = None, buffers: list[Any] | None = None,
                     **keys: Any) -> None:
        content = json_clean(dict(data=data or {}, comm_id=self.comm_id, **keys))
        session = self.kernel_client.session
        msg = session.msg(msg_type, content=content, parent=self.parent_header, metadata=metadata or {})
        socket = self.kernel_client.shell_channel.socket
        if not isinstance(socket, zmq.asyncio.Socket):   # a blocking client polls synchronously: no race
            self.kernel_client.shell_channel.send(msg)
            return
        # Not session.send(): it sends through a blocking shadow of this socket, which loses the wake-up
        # of a concurrent poll for the execute reply (see the module docstring).
        socket.send_multipart([*session.serialize(msg), *(buffers or [])])


class ShellSafeNotebookClient(PapermillNotebookClient):
    """Papermill's notebook client with :class:`ShellSafeOutputWidget` as the Output-widget mimic."""

    def __init__(self, nb_man: Any, km: Any = None, **kwargs: Any) -> None:
        super().__init__(nb_man, km=km, **kwargs)
        self.widget_registry = {"@jupyter-widgets/output": {"OutputModel": ShellSafeOutputWidget}}

    def execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        """nbclient's ``execute_cell``; a timeout raises :class:`CellTimedOut` and shows in the cell's outputs."""
        try:
            return super().execute_cell(cell, cell_index, *args, **kwargs)
        except CellTimeoutError as exc:
            if isinstance(exc, CellTimedOut):
                raise
            # Name the cell as in the notebook the user edits: papermill inserted its parameters cell.
            injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in self.nb.cells[:cell_index])
            timed_out = CellTimedOut(cell_index - injected, first_line(cell.source), self.timeout)
            cell.outputs.append(nbformat.v4.new_output("error", ename="CellTimedOut", evalue=str(timed_out),
                                                       traceback=[]))
            raise timed_out from exc


class ShellSafeEngine(NBClientEngine):
    """Papermill's default (nbclient) engine, executing with :class:`ShellSafeNotebookClient`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: float | None = None, **kwargs: Any) -> Any:
        """Execute ``nb_man.nb`` (the arguments of papermill's ``NBClientEngine``, same meaning)."""
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(safe_kwargs, timeout=execution_timeout or kwargs.get("timeout"),
                                    startup_timeout=start_timeout, kernel_name=kernel_name,
                                    log=papermill_logger, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
        return ShellSafeNotebookClient(nb_man, **final_kwargs).execute()


papermill_engines.register(ENGINE_NAME, ShellSafeEngine)
