"""Granian's entry point (``manage.py serve`` with ``PORCHLIGHT_SERVER=granian``), loaded by each worker.

What gunicorn.conf.py does for gunicorn, for Granian: the access log with the request id
(ops/access_log.py), and prometheus-client's multiprocess files. Granian has no hook in its main
process when a worker dies, as gunicorn's ``child_exit`` is: each worker, as it starts (the first
ones, a respawned one, the new ones after SIGHUP), folds away the files of processes that are no
longer running, as ``multiprocess.mark_process_dead`` does for gunicorn. ``manage.py serve``
empties the folder before Granian starts.
"""

import os
import re
from pathlib import Path

from ops.access_log import AccessLog, access_logger
from porchlight.wsgi import application as porchlight_application

# prometheus-client names each process's files <kind>_<pid>.db (multiprocess mode).
_PROCESS_FILE = re.compile(r"_(\d+)\.db$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(folder: str) -> None:
    """Fold away the live gauges of every process that wrote to ``folder`` and is gone."""
    from prometheus_client import multiprocess

    pids = {int(match[1]) for path in Path(folder).glob("*.db") if (match := _PROCESS_FILE.search(path.name))}
    for pid in pids:
        if pid != os.getpid() and not _running(pid):
            multiprocess.mark_process_dead(pid, folder)


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    forget_dead_workers(os.environ["PROMETHEUS_MULTIPROC_DIR"])

application = AccessLog(
    porchlight_application,
    access_logger(os.environ.get("PORCHLIGHT_ACCESS_LOG", "-")),
    os.environ.get("PORCHLIGHT_LOG_FORMAT", "plain"),
)
