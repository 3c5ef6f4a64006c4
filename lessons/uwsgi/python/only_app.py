"""The "application" trap: this module defines app, not application.

    uwsgi --plugin python3,http --http 127.0.0.1:8400 --wsgi-file only_app.py
    ... unable to find "application" callable in file only_app.py
    ... *** no app loaded. going in full dynamic mode ***

uWSGI starts anyway, and every request gets "500 Internal Server Error".
Fix it with --callable app, or add `application = app` to the module.
Flask apps hit this too: Flask's object is usually called app.
"""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"found me: the callable is named app\n"]
