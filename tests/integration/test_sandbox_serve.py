"""`billrecon sandbox serve`: without --port it serves on a free port and prints where, Ctrl-C ends it with
exit 0; a port another program holds is refused in one line, exit 2, and nothing is left running."""

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request

SMALL = ["--customers", "2", "--lines", "20", "--months", "1"]


def _ctrl_c_reaches_it() -> None:
    """A suite started as a background job (`make test &`) runs with SIGINT ignored, which its children
    inherit: the server under test gets Ctrl-C as a terminal would give it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def serve(tmp_path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "billrecon.cli", "sandbox", "serve", *SMALL, *options],
                            cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_ctrl_c_reaches_it)


def test_without_a_port_it_serves_on_a_free_one_until_ctrl_c(tmp_path):
    process = serve(tmp_path)
    deadline = threading.Timer(120, process.kill)  # a server that never says it serves fails, not hangs
    deadline.start()
    try:
        printed = {}
        for line in process.stdout:
            if line == "serving until Ctrl-C\n":
                break
            name, _, value = line.rstrip("\n").partition("=")
            printed[name] = value
        endpoint = printed["BILLRECON_S3_ENDPOINT"]
        assert endpoint.startswith("http://127.0.0.1:") and int(endpoint.rsplit(":", 1)[1]) > 0
        with urllib.request.urlopen(f"{endpoint}/billrecon") as listing:  # the world's bucket, served
            assert b"customerBill/" in listing.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        deadline.cancel()
        process.kill()
    assert (process.returncode, out, err) == (0, "stopping\n", "")


def test_a_port_in_use_is_refused_in_one_line_and_nothing_is_left_running(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process = serve(tmp_path, "--port", str(port))
        try:
            out, err = process.communicate(timeout=60)  # it used to hang here
        finally:
            process.kill()
    assert (process.returncode, out) == (2, "")
    assert err == (f"billrecon: --port {port} is in use by another program: choose another port, or leave --port out "
                   "for a free one\n")
