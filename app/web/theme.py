"""The operator's theme folder (`THEME_DIR`, `instance/theme/` by default): templates and
static files found there win over ours, so a portal can be restyled without a fork.

`THEME_DIR/templates/base.html` replaces `templates/base.html`, `THEME_DIR/static/style.css`
replaces `static/style.css` (at the same `/static/` address), and the optional files below
are added to every page when present.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, send_from_directory
from jinja2 import FileSystemLoader

# Looked for in THEME_DIR/static at start-up, in this order; the first found is the logo.
LOGO_FILES = ("logo.svg", "logo.png", "logo.webp")
# A stylesheet loaded after ours, for a few changes without copying style.css.
EXTRA_STYLESHEET = "theme.css"


def register(app: Flask) -> None:
    """Search the theme's templates first, serve the theme's static files first, and tell
    the templates which optional files it has."""
    theme = Path(app.config["THEME_DIR"])
    folders = [theme / "templates", Path(app.root_path, app.template_folder or "templates")]
    app.jinja_loader = FileSystemLoader(folders)
    static = theme / "static"
    if static.is_dir():
        app.view_functions["static"] = _static_view(app, static)
    logo = next((name for name in LOGO_FILES if (static / name).is_file()), None)
    app.jinja_env.globals["theme_logo"] = logo
    app.jinja_env.globals["theme_stylesheet"] = (static / EXTRA_STYLESHEET).is_file()


def _static_view(app: Flask, folder: Path) -> Callable[[str], Response]:
    def static(filename: str) -> Response:
        if (folder / filename).is_file():  # send_from_directory refuses paths that leave it
            max_age = app.get_send_file_max_age(filename)
            return send_from_directory(folder, filename, max_age=max_age)
        return app.send_static_file(filename)

    return static
