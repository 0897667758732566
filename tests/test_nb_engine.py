"""The papermill engine without the lost-reply stall (erts_kit.course.engine), checked at the socket.

The stall, reproduced deterministically: nbclient awaits the execute reply on the asyncio shell
socket; the reply reaches the socket; before the event loop looks, the Output-widget mimic echoes a
comm message on the same socket. With nbclient's own mimic (a send through a blocking shadow socket)
the waiting poll is not woken and returns only at its timeout (1.9 s of a 2 s timeout on the dev
machine, every time); with the kit's mimic it returns at once.
"""
from __future__ import annotations

import asyncio
import time
import types

import papermill
import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

from erts_kit.course.engine import ENGINE_NAME, ShellSafeEngine, ShellSafeOutputWidget


async def _seconds_until_reply_seen(widget_class, timeout: float) -> float:
    kernel = zmq.Context.instance().socket(zmq.ROUTER)
    shell = zmq.asyncio.Context.instance().socket(zmq.DEALER)
    try:
        port = kernel.bind_to_random_port("tcp://127.0.0.1")
        shell.connect(f"tcp://127.0.0.1:{port}")
        session = Session(key=b"test")
        client = types.SimpleNamespace(session=session, shell_channel=AsyncZMQSocketChannel(shell, session))
        client.shell_channel.send(session.msg("execute_request", {}))
        ident, *_ = kernel.recv_multipart()
        waiting = asyncio.ensure_future(client.shell_channel.get_msg(timeout=timeout))  # nbclient's wait
        await asyncio.sleep(0.05)
        session.send(kernel, "execute_reply", {}, ident=ident)   # the kernel replies ...
        time.sleep(0.05)                                         # ... and the reply reaches the socket,
        widget = widget_class("comm-1", {"outputs": []}, client, None)
        widget.parent_header = {}
        widget.sync_state()                                      # ... then the mimic echoes on shell
        start = time.perf_counter()
        reply = await waiting
        assert reply["msg_type"] == "execute_reply"
        return time.perf_counter() - start
    finally:
        shell.close(linger=0)
        kernel.close(linger=0)


def test_an_output_widget_echo_does_not_hide_the_execute_reply():
    waited = asyncio.run(_seconds_until_reply_seen(ShellSafeOutputWidget, timeout=5.0))
    assert waited < 1.0, f"the execute reply was seen only after {waited:.1f} s: the lost-wake-up stall is back"


def test_the_engine_is_registered_with_papermill():
    assert papermill.engines.papermill_engines.get_engine(ENGINE_NAME) is ShellSafeEngine


@pytest.mark.notebook
def test_papermill_runs_a_widget_notebook_with_the_engine(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import ipywidgets\nout = ipywidgets.Output()\ndisplay(out)"),
                nbformat.v4.new_code_cell("with out:\n    print('inside')")]
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    done = papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                      engine_name=ENGINE_NAME, progress_bar=False, execution_timeout=60)
    state = done.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [o for m in state.values() if m["model_name"] == "OutputModel" for o in m["state"]["outputs"]]
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "inside\n"}]
