"""The operators' request search: by status, by an IP (exactly) or part of an email address."""

from __future__ import annotations

import pytest

from app.delisting.request_search import MAX_QUERY_LENGTH, find_requests
from app.models import RequestStatus
from tests.helpers_delisting import list_networks, submit

pytestmark = pytest.mark.usefixtures("ctx")


@pytest.fixture
def requests():
    list_networks("203.0.113.7", "203.0.113.70", "192.0.2.0/24")
    return {
        "seven": submit("203.0.113.7", email="Ana.Sender@Example.org").delist_request,
        "seventy": submit("203.0.113.70", email="bob@example.net").delist_request,
        "range": submit("192.0.2.9", email="100%_real@example.com").delist_request,
    }


def ids(page):
    return [item.id for item in page.items]


def test_newest_first_and_filtered_by_status(requests):
    every = [requests[k].id for k in ("range", "seventy", "seven")]
    assert ids(find_requests("", "", None)) == every
    assert ids(find_requests("needs_review", "", None)) == [requests["range"].id]
    assert ids(find_requests(RequestStatus.PENDING, "", None)) == every[1:]
    assert ids(find_requests("no-such-status", "", None)) == every  # an unknown one: all


def test_an_ip_matches_exactly_and_is_normalised(requests):
    assert ids(find_requests("", "203.0.113.7", None)) == [requests["seven"].id]
    assert ids(find_requests("", " [203.0.113.7] ", None)) == [requests["seven"].id]
    assert ids(find_requests("", "::ffff:203.0.113.70", None)) == [requests["seventy"].id]


def test_anything_else_is_part_of_the_email_in_any_case_with_wildcards_taken_literally(requests):
    assert ids(find_requests("", "ana.SENDER", None)) == [requests["seven"].id]
    assert ids(find_requests("", "example.", None)) == [
        requests["range"].id,
        requests["seventy"].id,
        requests["seven"].id,
    ]
    assert ids(find_requests("", "100%_", None)) == [requests["range"].id]
    assert ids(find_requests("", "%", None)) == [requests["range"].id]  # not "anything"
    assert ids(find_requests("pending", "bob", None)) == [requests["seventy"].id]
    assert ids(find_requests("needs_review", "bob", None)) == []


def test_a_long_query_is_cut_to_the_longest_email_there_can_be(requests):
    longest = "x" * 247 + "@ex.org"  # 254 characters, the most an address may have
    assert len(longest) == MAX_QUERY_LENGTH == 254
    list_networks("203.0.113.99")
    kept = submit("203.0.113.99", email=longest).delist_request
    assert ids(find_requests("", longest + "-and-more", None)) == [kept.id]
    assert ids(find_requests("", "  bob@example.net  ", None)) == [requests["seventy"].id]


def test_pages_continue_after_the_cursor(requests):
    first = find_requests("", "", requests["seventy"].id)
    assert ids(first) == [requests["seven"].id]
    assert first.next_cursor is None
