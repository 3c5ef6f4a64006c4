"""Gunicorn behind nginx: /etc/gunicorn/app.conf.py, read with -c.

    gunicorn -c gunicorn.conf.py app:app
    gunicorn --check-config -c gunicorn.conf.py app:app   # check, exit
"""

import multiprocessing

# A unix socket that only nginx uses: nothing else on the network can reach
# Gunicorn and bypass the proxy. systemd may create it (gunicorn.socket).
bind = "unix:/run/gunicorn.sock"

# The docs' starting point, (2 x cores) + 1; tune it under load.
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"  # fine behind a buffering proxy, for short requests

timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 30  # what TERM and HUP give a busy worker to finish
keepalive = 2  # used by non-sync workers only; nginx opens new connections

# Recycle workers now and then, staggered, against slow memory leaks.
max_requests = 1000
max_requests_jitter = 50

# "-" is stdout for the access log and stderr for the error log: both end up
# in systemd's journal.
accesslog = "-"
errorlog = "-"

# Which front ends may set X-Forwarded-Proto (and so wsgi.url_scheme).
# Connections over a unix socket are trusted; TCP ones only from these.
forwarded_allow_ips = "127.0.0.1"
