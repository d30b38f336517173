"""Production server settings: ``uv run gunicorn -c python:authsvc.gunicorn_conf 'authsvc:create_app()'``.

Every value can be overridden on the command line or with ``GUNICORN_CMD_ARGS``.
"""

import ctypes
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

# Metrics from every worker are summed at a scrape through files in this folder (prometheus_client's
# multiprocess mode). It must be set before prometheus_client is first imported, which importing
# authsvc below does (hence the noqa). An operator's own PROMETHEUS_MULTIPROC_DIR is kept; a folder
# made here is the server's own, removed when it stops (on_exit).
OWN_METRICS_DIR: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    OWN_METRICS_DIR = tempfile.mkdtemp(prefix="authsvc-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = OWN_METRICS_DIR

from gunicorn.arbiter import Arbiter  # noqa: E402
from gunicorn.workers.base import Worker  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from authsvc.config import CONFIG_ERROR_STATUS, ConfigError, Settings, report_config_error  # noqa: E402

bind = os.environ.get("AUTHSVC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("AUTHSVC_THREADS", "4"))
# A worker stuck longer than this is killed and replaced; the database calls time out well before.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Headers the app never needs stay bounded; a token header is far below this.
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"
# The access log names the request line and status, never headers: no Authorization, no cookies.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No runtime control socket: several instances may share a host, and nothing here needs it.
control_socket_disable = True


# glibc's M_ARENA_MAX: how many malloc arenas the threads of one process may spread over.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Let each worker's threads share two malloc arenas, unless the operator chose (MALLOC_ARENA_MAX,
    or glibc.malloc.arena_max in GLIBC_TUNABLES).

    glibc gives a thread that finds its arena busy a new one, up to eight per core, and each keeps
    the most it ever held. A worker's threads then reach about a megabyte each only once they run
    at the same time, so a worker that takes over a stopped sibling's clients grew about 5 MB more
    than one that had them from the start (docs/reliability.md). Under the GIL they rarely allocate
    at once; what two arenas cost in CPU was within the benchmark's noise (docs/benchmarks.md, "Malloc
    arenas"). Set in the master before any worker is forked, which the workers inherit. Elsewhere
    (musl, macOS) there is nothing to set.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or "glibc.malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return  # glibc read the operator's choice itself at start
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def on_starting(server: Arbiter) -> None:
    """Check the settings once in the master, before any socket is bound or worker forked.

    Left to the workers, a bad setting stops each of them, and gunicorn forks replacements forever
    while the port stays open. Only the environment is read here: the instance folder's generated
    secrets are the workers' to make (they may run as another user).
    """
    try:
        Settings.from_env()
    except ConfigError as error:
        report_config_error(error)
        server.halt(reason="configuration error", exit_status=CONFIG_ERROR_STATUS)
    limit_malloc_arenas()
    # Counts start from nothing with each server: a previous run's files would be summed in.
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def post_fork(server: Arbiter, worker: Worker) -> None:
    """Make a worker whose app stops on a configuration error exit with gunicorn's boot-error status.

    ``create_app`` exits with status 2, which gunicorn reads as an ordinary crash and answers with a
    new worker; ``WORKER_BOOT_ERROR`` halts the whole server instead. This covers what only a worker
    can find (an emptied kept secret, a setting changed before a reload).
    """
    load_wsgi = worker.load_wsgi

    def load_wsgi_or_halt() -> None:
        try:
            load_wsgi()
        except SystemExit as stop:
            if stop.code == CONFIG_ERROR_STATUS:
                raise SystemExit(Arbiter.WORKER_BOOT_ERROR) from None
            raise

    # Wrapping this one worker's method is the point; mypy refuses any assignment to a method.
    worker.load_wsgi = load_wsgi_or_halt  # type: ignore[method-assign]


def post_worker_init(worker: Worker) -> None:
    """Start the worker's mail sender once its app is loaded, so mail left in the outbox is sent
    without waiting for a request (a thread started in the master would not survive the fork)."""
    from authsvc.mail import EXTENSION

    mail = getattr(worker.wsgi, "extensions", {}).get(EXTENSION)
    if mail is not None:
        mail.start()


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A worker that exited takes its live gauges with it (its counters stay summed)."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Arbiter) -> None:
    """The folder this server made for its metrics goes with it: one was left in the temporary
    directory at every start. gunicorn calls this on a halt too (a configuration error)."""
    if OWN_METRICS_DIR is not None:
        shutil.rmtree(OWN_METRICS_DIR, ignore_errors=True)
