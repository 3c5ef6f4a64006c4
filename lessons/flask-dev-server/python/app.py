"""The Flask app of the flask-dev-server lesson (Flask 2.2.2 here).

Run it with the development server, from this folder:

    flask --app app --debug run          # Flask 2.2.x: --debug before run
    flask --app app run --debug          # Flask 2.2.3 and later
    python3 app.py                       # app.run(debug=True), the same server

then try / , /slow?ms=1000 , /boom (the debugger page) and /info .
Never expose it: debug mode runs Python typed into the browser.
"""

import os
import threading
import time

from flask import Flask, request

app = Flask(__name__)
MESSAGE = "Hello, World!"


@app.route("/")
def index():
    return MESSAGE


@app.route("/slow")
def slow():
    # Sleeps ?ms= milliseconds (1000 by default): ten at once show the threads.
    ms = int(request.args.get("ms", 1000))
    time.sleep(ms / 1000)
    return f"slept {ms} ms\n"


@app.route("/boom")
def boom():
    # An exception in a view: in debug mode, a 500 with the Werkzeug debugger.
    raise RuntimeError("boom")


@app.route("/info")
def info():
    # The pid changes after every reload: a new process imported this file.
    return f"pid={os.getpid()} thread={threading.current_thread().name}\n"


if __name__ == "__main__":
    # 127.0.0.1:5000 and threaded=True are the defaults; debug=True turns on
    # the reloader and the debugger, as --debug does.
    app.run(debug=True)
