"""Every text marked for translation is in the catalogs, and senders' texts are in Japanese."""

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

import config

CATALOG = config.PROJECT_ROOT / "app" / "translations" / "messages.pot"


def msgids(path: Path) -> set:
    with path.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


JAPANESE = config.PROJECT_ROOT / "app" / "translations" / "ja" / "LC_MESSAGES" / "messages.po"
# Operators' pages stay in English; everything a sender can see or receive is translated.
OPERATORS_ONLY = ("templates/admin/", "app/admin/", "templates/dev/")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extract(target: Path) -> None:
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
            str(target),
            ".",
        ],
        cwd=config.PROJECT_ROOT,
        check=True,
        timeout=120,
    )


def test_message_catalog_is_up_to_date(tmp_path):
    fresh = tmp_path / "messages.pot"
    extract(fresh)
    missing = msgids(fresh) - msgids(CATALOG)
    assert not missing, f"run `make messages`; not in the catalog: {sorted(missing)[:5]}"
    assert "Delist IP" in msgids(CATALOG)


def test_every_text_a_sender_sees_is_in_japanese(tmp_path):
    located = tmp_path / "located.pot"
    extract(located)
    with JAPANESE.open("rb") as handle:
        japanese = read_po(handle, locale="ja")
    with located.open("rb") as handle:
        messages = [m for m in read_po(handle) if m.id]
    untranslated = []
    for message in messages:
        if all(path.startswith(OPERATORS_ONLY) for path, _ in message.locations):
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        found = japanese.get(key)
        texts = (
            found.string if found and isinstance(found.string, tuple) else (found and found.string,)
        )
        if not found or not all(texts):
            untranslated.append(key)
    assert not untranslated, f"translate these in {JAPANESE.name}: {untranslated[:5]}"


def test_japanese_texts_keep_every_placeholder():
    with JAPANESE.open("rb") as handle:
        japanese = [m for m in read_po(handle, locale="ja") if m.id and m.string]
    assert len(japanese) > 250
    for message in japanese:
        original = message.id[0] if isinstance(message.id, tuple) else message.id
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in texts:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(original)), text
            assert not re.search(r"%(?!\()", text), f"a stray % breaks formatting: {text}"
