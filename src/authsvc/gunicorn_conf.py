"""Production server settings: ``uv run gunicorn -c python:authsvc.gunicorn_conf 'authsvc:create_app()'``.

Every value can be overridden on the command line or with ``GUNICORN_CMD_ARGS``.
"""

import multiprocessing
import os

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
