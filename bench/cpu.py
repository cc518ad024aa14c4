"""CPU time of a process tree, read from /proc (Linux), for server CPU milliseconds per request.

A process's own time (utime + stime) plus the time of its children that have exited and been
waited for (cutime + cstime), summed over the root and every live descendant: gunicorn's master
and workers, or PostgreSQL's postmaster and its backends. A worker or backend that exits during
a measurement still counts, through its parent's cutime/cstime.
"""

import os
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """Return (parent pid, CPU ticks including reaped children) of ``pid``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # proc(5): the command name is in parentheses and may contain spaces; fields follow the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    parent = int(fields[1])
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return parent, utime + stime + cutime + cstime


def _tree(root: int) -> dict[int, int]:
    """Return the CPU ticks (reaped children included) of ``root`` and each live descendant."""
    stats = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    ticks, pending = {}, [root]
    while pending:
        pid = pending.pop()
        if pid in stats:
            ticks[pid] = stats[pid][1]
        pending.extend(children.get(pid, []))
    return ticks


def tree_cpu_seconds(root: int) -> float:
    """Return the CPU seconds spent so far by ``root`` and all its descendants."""
    return sum(_tree(root).values()) / TICKS_PER_SECOND


def _title(pid: int) -> str:
    """Return the process's command line as ps shows it (PostgreSQL's processes set it)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def tree_cpu_by_process(root: int) -> dict[int, tuple[str, float]]:
    """Return each process of ``root``'s tree: its title and CPU seconds so far (as above)."""
    return {pid: (_title(pid), ticks / TICKS_PER_SECOND) for pid, ticks in _tree(root).items()}
