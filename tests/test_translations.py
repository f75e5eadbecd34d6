"""Every text marked for translation is in the message catalog template."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

import config

CATALOG = config.PROJECT_ROOT / "app" / "translations" / "messages.pot"


def msgids(path: Path) -> set:
    with path.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


def test_message_catalog_is_up_to_date(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=config.PROJECT_ROOT,
        check=True,
        timeout=120,
    )
    missing = msgids(fresh) - msgids(CATALOG)
    assert not missing, f"run `make messages`; not in the catalog: {sorted(missing)[:5]}"
    assert "Delist IP" in msgids(CATALOG)
