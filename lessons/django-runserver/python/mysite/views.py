"""The views of the django-runserver lesson.

Run the project with Django's development server, from the folder that
holds manage.py:

    python3 manage.py runserver                 # 127.0.0.1:8000, threaded
    python3 manage.py runserver 8001            # another port
    python3 manage.py runserver --nothreading   # one request at a time
    python3 manage.py runserver --noreload      # no autoreloader

then try / , /slow?ms=1000 , /boom (the technical 500 page), /info and
/static/site.css . Edit this file and save: the StatReloader restarts it.
"""

import os
import threading
import time

from django.http import HttpResponse

MESSAGE = "Hello, World!"


def index(request):
    return HttpResponse(MESSAGE)


def slow(request):
    # Sleeps ?ms= milliseconds (1000 by default): ten at once show the threads.
    ms = int(request.GET.get("ms", 1000))
    time.sleep(ms / 1000)
    return HttpResponse(f"slept {ms} ms\n")


def boom(request):
    # An exception in a view: with DEBUG = True, the technical 500 page.
    raise RuntimeError("boom")


def info(request):
    # The pid changes after every reload: runserver started a new process.
    return HttpResponse(
        f"pid={os.getpid()} thread={threading.current_thread().name}\n"
    )
