"""A gunicorn config file: the settings this lesson discusses, in Python.

gunicorn reads ./gunicorn.conf.py by default (or -c FILE). Any setting can
also be a command-line flag: workers = 3 is -w 3, timeout = 3 is -t 3.

    gunicorn app:app                   # picks this file up from the cwd
    gunicorn -c gunicorn.conf.py app:app
"""

import multiprocessing

# Where to listen. Behind nginx, a unix socket or 127.0.0.1 is the norm.
bind = "127.0.0.1:8000"

# The docs' starting point, (2 x cores) + 1, then tune with TTIN/TTOU.
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"  # the default: one request at a time per worker

# A worker silent for this long is killed and replaced (default 30 s).
timeout = 30
graceful_timeout = 30  # how long TERM/HUP let a worker finish (default 30)

# Restart each worker after this many requests (default 0: never), with
# some randomness so they do not all restart at once.
max_requests = 1000
max_requests_jitter = 50

# Import the app once in the master, before forking. Saves memory and
# boot time; but HUP then keeps the old code: restart to deploy.
preload_app = False

# gunicorn logs no requests unless asked: "-" means stdout.
accesslog = "-"
errorlog = "-"  # the default: stderr


def worker_abort(worker):
    """Runs in a worker when it gets SIGABRT, which generally means timeout."""
    worker.log.warning("worker %s aborted (timeout?)", worker.pid)
