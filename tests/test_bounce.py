"""A pasted bounce: the portal finds the refused IP and the code, and warns about a typo."""

import pytest

from app.delisting.bounces import MAX_BOUNCE_LENGTH, REPLY_SPAN, addresses_in, read_bounce
from tests.helpers import add_listings, csrf_token, page_text

POSTFIX_BOUNCE = """\
This is the mail system at host mail.sender.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<someone@example.org>: host mx1.example.org[192.0.2.25] said: 550 5.7.606
    Access denied, banned sending IP [203.0.113.7]. To request removal from
    this list please visit https://delist.example.org/ and follow the
    directions. (in reply to RCPT TO command)

Reporting-MTA: dns; mail.sender.example
Received: from laptop (unknown [10.1.2.3]) by mail.sender.example
"""

EXCHANGE_BOUNCE = """\
Delivery has failed to these recipients or groups:
someone@example.org
Your message wasn't delivered because the recipient's email provider rejected it.

Diagnostic information for administrators:
Generating server: DB8PR01MB1234.eurprd01.prod.example.com
Remote Server returned '550 5.7.606 Access denied, banned sending IP [IPv6:2001:db8::7].
To request removal from this list please visit https://delist.example.org/'

Original message headers:
Received: from DB8PR01MB1234 (2001:db8:ffff::1) by DB8PR01MB5678 with HTTPS
"""


@pytest.mark.parametrize(
    ("bounce", "address", "code"),
    [
        (POSTFIX_BOUNCE, "203.0.113.7", "5.7.606"),
        (EXCHANGE_BOUNCE, "2001:db8::7", "5.7.606"),
        ("Your IP 198.51.100.9 is blocked.", "198.51.100.9", None),
        (
            "550 5.7.1 Service unavailable; client host [198.51.100.20] blocked",
            "198.51.100.20",
            "5.7.1",
        ),
        ("451 4.7.1 Try again later [198.51.100.21]", "198.51.100.21", "4.7.1"),
    ],
)
def test_the_refused_address_and_the_code_are_found(bounce, address, code):
    facts = read_bounce(bounce)
    assert (facts.address, facts.code) == (address, code)


def test_several_addresses_and_no_reply_give_no_single_answer():
    facts = read_bounce("Received: from a [198.51.100.1] by b [198.51.100.2]; 12:34:56 +0000")
    assert facts.address is None
    assert facts.candidates == ["198.51.100.1", "198.51.100.2"]


def test_text_without_an_address_finds_nothing():
    facts = read_bounce("Delivery failed. Version 2.0.0 at 12:30:01, ref ::, see RFC 5321.")
    assert facts.address is None and facts.candidates == []


def test_addresses_in_headers_come_in_order_without_loopback():
    headers = (
        "Received: from x ([198.51.100.1]) by y (127.0.0.1)\nReceived: from [IPv6:2001:db8::2]"
    )
    assert addresses_in(headers) == ["198.51.100.1", "2001:db8::2"]


def find(client, bounce: str, ip: str = "", email: str = ""):
    page = client.get("/")
    return client.post(
        "/",
        data={
            "csrf_token": csrf_token(page.text),
            "email": email,
            "ip": ip,
            "bounce": bounce,
            "find": "Find the IP address",
        },
    )


def test_find_fills_the_ip_field_and_says_whether_it_is_listed(app, client):
    add_listings(app, "203.0.113.7")
    response = find(client, POSTFIX_BOUNCE, email="me@example.com")
    assert response.status_code == 200
    text = page_text(response)
    assert "The bounce names 203.0.113.7" in text and "Its code is 5.7.606" in text
    assert "It is on our list" in text
    assert 'name="ip" required spellcheck="false" type="text" value="203.0.113.7"' in response.text
    assert 'value="me@example.com"' in response.text  # nothing typed is lost
    assert '<details class="bounce-box" id="bounce-box" open>' in response.text


def test_find_replaces_a_different_typed_address_and_says_so(app, client):
    response = find(client, POSTFIX_BOUNCE, ip="203.0.113.70")
    text = page_text(response)
    assert "You had typed 203.0.113.70" in text
    assert "It is not on our list now" in text


def test_find_without_an_address_explains_what_to_paste(client):
    assert "We found no IP address" in page_text(find(client, "Mail delivery failed."))
    several = page_text(find(client, "from [198.51.100.1] via [198.51.100.2]"))
    assert "198.51.100.1, 198.51.100.2" in several


def submit_with_bounce(client, ip: str, bounce: str, **extra):
    page = client.get("/")
    data = {"csrf_token": csrf_token(page.text), "email": "me@example.com", "ip": ip}
    return client.post("/", data={**data, "bounce": bounce, **extra})


def test_sending_with_a_bounce_and_no_ip_uses_the_bounce_address(app, client):
    add_listings(app, "203.0.113.7")
    response = submit_with_bounce(client, "", POSTFIX_BOUNCE)
    assert "Check your inbox" in page_text(response)
    assert "203.0.113.7" in page_text(response)


def test_a_typed_ip_that_differs_from_the_bounce_is_questioned_once(app, client):
    add_listings(app, "203.0.113.7", "203.0.113.70")
    first = submit_with_bounce(client, "203.0.113.70", POSTFIX_BOUNCE)
    assert first.status_code == 200
    text = page_text(first)
    assert "The bounce you pasted names 203.0.113.7, not 203.0.113.70" in text
    assert "Check your inbox" not in text
    assert 'aria-describedby="ip-hint ip-note"' in first.text

    again = submit_with_bounce(client, "203.0.113.70", POSTFIX_BOUNCE, ip_checked="203.0.113.70")
    assert "Check your inbox" in page_text(again)


def test_find_does_not_count_against_the_per_ip_limit(app, client):
    app.config["RATE_LIMIT_SUBMIT_PER_IP"] = "2 per hour"
    add_listings(app, "203.0.113.7")
    for _ in range(4):
        assert find(client, POSTFIX_BOUNCE).status_code == 200
    assert "Check your inbox" in page_text(submit_with_bounce(client, "", POSTFIX_BOUNCE))


def test_addresses_that_cannot_have_sent_the_mail_are_left_out():
    text = (
        "via [127.0.0.1] [::1] [0.0.0.0] [::] [fe80::1] [169.254.0.9] [224.0.0.5] [ff02::1]"
        " [IPv6:::ffff:198.51.100.4] and [198.51.100.5]"
    )
    assert addresses_in(text) == ["198.51.100.4", "198.51.100.5"]
    assert read_bounce(text).candidates == ["198.51.100.4", "198.51.100.5"]


def test_addresses_come_in_the_order_of_the_text_once_each_up_to_the_limit():
    text = "198.51.100.3 [198.51.100.1] 198.51.100.2 [198.51.100.1] " + " ".join(
        f"203.0.113.{n}" for n in range(1, 60)
    )
    found = addresses_in(text)
    assert found[:4] == ["198.51.100.3", "198.51.100.1", "198.51.100.2", "203.0.113.1"]
    assert len(found) == 50
    assert addresses_in(text, limit=2) == ["198.51.100.3", "198.51.100.1"]


def test_only_the_first_part_of_a_very_long_text_is_read():
    cut = " " * (MAX_BOUNCE_LENGTH - 11) + "198.51.100.99"  # the limit falls inside it
    assert addresses_in(cut) == []
    assert read_bounce(cut).candidates == []
    whole = " " * (MAX_BOUNCE_LENGTH - 13) + "198.51.100.99"
    assert addresses_in(whole) == ["198.51.100.99"]
    assert read_bounce(whole).address == "198.51.100.99"


def test_the_address_our_reply_names_wins_over_others_in_brackets():
    text = "from relay [192.0.2.25]: 550 5.7.606 banned sending IP [203.0.113.7] [203.0.113.8]"
    facts = read_bounce(text)
    assert (facts.address, facts.code) == ("203.0.113.7", "5.7.606")
    assert facts.candidates == ["203.0.113.7", "203.0.113.8"]


def test_an_address_far_after_the_code_is_not_part_of_that_reply():
    prefix = "from relay [192.0.2.25]: 550 5.7.606"
    room = REPLY_SPAN - len(" [203.0.113.7]")  # the reply ends REPLY_SPAN after the code
    near = prefix + " " + "x" * room + "[203.0.113.7]"
    assert read_bounce(near).address == "203.0.113.7"
    far = prefix + " " + "x" * (room + 1) + "[203.0.113.7]"
    facts = read_bounce(far)
    assert facts.address is None  # two bracketed addresses, neither in a reply
    assert facts.candidates == ["192.0.2.25", "203.0.113.7"]


def test_a_policy_code_is_preferred_and_otherwise_the_first_code_is_given():
    assert read_bounce("421 4.4.2 timeout; 554 5.7.1 refused").code == "5.7.1"
    assert read_bounce("421 4.4.2 timeout; 550 5.1.1 no such user").code == "4.4.2"
    assert read_bounce("version 5.7.1.2 and x5.7.1").code is None
    # A 5.7.x code with no bracketed address after it: the address is found elsewhere.
    facts = read_bounce("[198.51.100.9] said: 550 5.7.1 blocked")
    assert (facts.address, facts.code) == ("198.51.100.9", "5.7.1")
