"""gunicorn settings read from the working directory: keep secrets out of the access log."""

logger_class = "app.web.gunicorn_logging.RedactingLogger"
