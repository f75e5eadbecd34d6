"""Real bounces (tests/data/bounces/, with the answer a person reads in each in expected.tsv).

The address is the one the rejection reply names as refused, or none. Every
`microsoft-must` and `negative` bounce must be read right, whole, as a fragment without
the bounce's headers, and through the form. Of the 21 `other-provider` bounces the reader
gets 21 right (100 %, measured when the reader was rewritten); the test keeps it there.
"""

import re

import pytest

from app.delisting.bounces import read_bounce
from tests.helpers import page_text
from tests.helpers_bounces import CorpusBounce, corpus, find

MUST = corpus("microsoft-must", "negative")
OTHER_PROVIDERS_READ_RIGHT = 21
IP_FIELD_RE = re.compile(r'<input[^>]*name="ip"[^>]*>')


def without_headers(bounce: CorpusBounce) -> str:
    """The bounce as a sender may paste it: from the first empty line on."""
    return re.split(r"\r?\n\r?\n", bounce.text(), maxsplit=1)[1]


def test_the_corpus_is_all_there():
    counts = {category: len(corpus(category)) for category in ("microsoft-must", "negative")}
    assert counts == {"microsoft-must": 10, "negative": 9}
    assert len(corpus("other-provider")) == 21


@pytest.mark.parametrize("bounce", MUST, ids=lambda bounce: bounce.file)
def test_a_microsoft_or_negative_bounce_gives_the_address_its_reply_names(bounce):
    assert read_bounce(bounce.text()).address == bounce.expected_ip
    assert read_bounce(without_headers(bounce)).address == bounce.expected_ip


def test_other_providers_bounces_are_read_right_at_least_as_often_as_measured():
    others = corpus("other-provider")
    right = [
        bounce for bounce in others if read_bounce(bounce.text()).address == bounce.expected_ip
    ]
    wrong = sorted({bounce.file for bounce in others} - {bounce.file for bounce in right})
    assert len(right) >= OTHER_PROVIDERS_READ_RIGHT, wrong


def test_a_bounce_that_names_no_address_gives_no_candidates_either():
    for bounce in corpus():
        facts = read_bounce(bounce.text())
        if bounce.expected_ip is None:
            assert facts.candidates == [], bounce.file
        else:
            assert facts.candidates == [bounce.expected_ip], bounce.file


@pytest.mark.parametrize("bounce", MUST, ids=lambda bounce: bounce.file)
def test_the_form_fills_in_exactly_the_address_the_reply_names(client, bounce):
    response = find(client, bounce.text())
    assert response.status_code == 200
    [field] = IP_FIELD_RE.findall(response.text)
    assert f'value="{bounce.expected_ip or ""}"' in field
    if bounce.expected_ip is None:
        text = page_text(response)
        assert "names no IP address as refused" in text or "We found no IP address" in text
