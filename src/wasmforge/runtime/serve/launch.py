"""Runs inside the process tier's sandbox when the manifest allows outbound network:
starts runtime/network.py's forwarders on the allow-listed endpoints' loopback addresses,
then the serving host as its child, and ends with it.

Started as `python -c BOOT CHANNEL_FD LISTEN_FD ENDPOINTS_JSON HOST_ARGV...` by serve/sandbox.py."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys


def main() -> None:
    from wasmforge.runtime.network import Forwarder

    channel_fd, listen_fd, described, *host_argv = sys.argv[1:]
    channel = socket.socket(fileno=int(channel_fd))
    forwarder = Forwarder(channel, json.loads(described))
    forwarder.start()
    child = subprocess.Popen(host_argv, pass_fds=(int(listen_fd),))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: child.send_signal(number))
    sys.exit(child.wait())

