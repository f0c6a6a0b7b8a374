"""Is the process that owns a run or a job still there? A pid alone is not enough: after a crash or a reboot the
pid can belong to another process, which would keep a dead run `running` forever. A record therefore stores the
pid together with the process's start time, and both must match.

    record.update(process_identity())          # {"pid": 1234, "pid_started": 1764622800.52}
    is_alive(record["pid"], record["pid_started"])
"""

import os

import psutil

START_TIME_TOLERANCE_S = 1.0  # create_time() is derived from boot time and jiffies; it can move by a few ms


def process_identity(pid: int | None = None) -> dict:
    pid = pid or os.getpid()
    try:
        return {"pid": pid, "pid_started": psutil.Process(pid).create_time()}
    except psutil.Error:
        return {"pid": pid, "pid_started": None}


def is_alive(pid, started=None) -> bool:
    """True while the process with this pid and start time runs (a zombie has ended: it only waits to be reaped)."""
    if not pid:
        return False
    try:
        process = psutil.Process(int(pid))
        if started is not None and abs(process.create_time() - float(started)) > START_TIME_TOLERANCE_S:
            return False  # the pid was reused by another process
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # exists, owned by someone else
        return True
