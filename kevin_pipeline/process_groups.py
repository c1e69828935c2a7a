"""Child processes in their own process groups, and stopping them with nothing left behind.

Shared by the latency bench and `kevin_pipeline.deploy_stack` (`make up`, `make up-prod`): a
process started with `start_new_session=True` leads a group that holds every process it forks
(gunicorn's workers, the code server's subprocess, a run's worker), so SIGTERM to the group reaches
them all and an empty group proves nothing is left. Linux `/proc` tells the members apart from
zombies; elsewhere only the leader is checked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

STOP_GRACE_S = 20.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def _exists(send: Callable[[int, int], None], target: int) -> bool:
    """Whether signal 0 (`os.kill` or `os.killpg`) finds `target`; someone else's process counts."""
    try:
        send(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    if not _exists(os.kill, pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: existence is all we know
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def signal_group(pgid: int, signum: int) -> None:
    """Send `signum` to the process group `pgid`; a group already gone is fine."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def stop_process_group(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> int:
    """SIGTERM the group, wait, SIGKILL what is left. Returns how many processes needed SIGKILL
    (0 when the group ended on SIGTERM)."""
    pgid = proc.pid  # start_new_session=True: the leader's pid is the group id
    signal_group(pgid, signal.SIGTERM)
    return finish_process_group(proc, grace_s)


def finish_process_group(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> int:
    """Wait up to `grace_s` for the (already signalled) group of `proc` to end, then SIGKILL what
    is left and reap it. Returns how many processes needed SIGKILL."""
    pgid = proc.pid
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()
        if not group_alive(pgid):
            break
        time.sleep(0.2)
    left = group_members(pgid)
    if left or group_alive(pgid):
        signal_group(pgid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Give the kernel a moment to reap the killed members.
    for _ in range(25):
        if not group_alive(pgid):
            break
        time.sleep(0.2)
    return len(left)


def group_alive(pgid: int) -> bool:
    if not _exists(os.killpg, pgid):
        return False
    return bool(group_members(pgid)) or sys.platform != "linux"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids in the process group (Linux /proc; empty elsewhere)."""
    members: list[int] = []
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return members
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
