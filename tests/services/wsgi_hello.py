"""A WSGI application that answers 200 to everything: the access-log test needs gunicorn, not Klearly."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
