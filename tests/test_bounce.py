"""A pasted bounce: the portal finds the address the reply refused, explains the code, lets the
sender choose among several, and warns about a typo.

The real bounces of many mail programs are in test_bounce_corpus.py; the texts here are small
cases, each for one rule.
"""

import pytest

from app.delisting.bounce_codes import MEANINGS, meaning_of
from app.delisting.bounces import MAX_BOUNCE_LENGTH, addresses_in, read_bounce
from tests.helpers import add_listings, csrf_token, page_text
from tests.helpers_bounces import DMARC_NDR, choose, exchange_ndr, find

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

EXCHANGE_BOUNCE = exchange_ndr(
    "550 5.7.606 Access denied, banned sending IP [IPv6:2001:db8::7].\n"
    "To request removal from this list please visit https://delist.example.org/",
    "Received: from DB8PR01MB1234 (2001:db8:ffff::1) by DB8PR01MB5678 with HTTPS\n",
)

EXIM_BOUNCE = """\
A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  someone@example.org
    host mx1.example.org [192.0.2.25]
    SMTP error from remote mail server after RCPT TO:<someone@example.org>:
    550-5.7.606 Access denied, banned sending IP [203.0.113.7]. To request
    550 5.7.606 removal from this list please visit https://delist.example.org/

------ This is a copy of the message, including all the headers. ------

Received: from laptop ([198.51.100.50]) by mail.sender.example
"""

SENDMAIL_TRANSCRIPT = """\
   ----- Transcript of session follows -----
... while talking to mx1.example.org.:
>>> RCPT To:<someone@example.org>
<<< 550 5.7.606 Access denied, banned sending IP [203.0.113.7]
550 5.1.1 <someone@example.org>... User unknown
"""

QMAIL_BOUNCE = """\
<someone@example.org>:
Connected to 192.0.2.25 but sender was rejected.
Remote host said: 550 5.7.606 Access denied, banned sending IP [203.0.113.7]
Giving up on 192.0.2.25.
"""

# multipart/report: the reply is folded in the DSN and quoted-printable in the notice, and the
# returned message's headers name the sender's own relay and laptop.
MIME_BOUNCE = """\
From: MAILER-DAEMON@mail.sender.example
To: me@sender.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<someone@example.org>: host mx1.example.org[192.0.2.25] said: 550 5.7.606 Access=
 denied, banned sending IP [203.0.1=
13.7]. To request removal please visit https://delist.example.org/

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.sender.example [192.0.2.99]

Final-Recipient: rfc822; someone@example.org
Action: failed
Status: 5.7.606
Remote-MTA: dns; mx1.example.org [192.0.2.25]
Diagnostic-Code: smtp; 550 5.7.606 Access denied, banned sending IP
    [203.0.113.7]. To request removal please visit https://delist.example.org/

--B
Content-Type: message/rfc822

Received: from laptop (unknown [198.51.100.50]) by mail.sender.example
X-Originating-IP: [198.51.100.51]
Subject: Hello

Hello
--B--
"""


@pytest.mark.parametrize(
    ("bounce", "address", "code"),
    [
        (POSTFIX_BOUNCE, "203.0.113.7", "5.7.606"),
        (EXCHANGE_BOUNCE, "2001:db8::7", "5.7.606"),
        (EXIM_BOUNCE, "203.0.113.7", "5.7.606"),
        (SENDMAIL_TRANSCRIPT, "203.0.113.7", "5.7.606"),
        (QMAIL_BOUNCE, "203.0.113.7", "5.7.606"),
        (MIME_BOUNCE, "203.0.113.7", "5.7.606"),
        (MIME_BOUNCE.split("\n\n", 1)[1], "203.0.113.7", "5.7.606"),  # pasted without headers
        ("Your IP 198.51.100.9 is blocked.", "198.51.100.9", None),
        ("5.7.606 Access denied, banned sending IP [198.51.100.8]", "198.51.100.8", "5.7.606"),
        (
            "550 5.7.1 Service unavailable; client host [198.51.100.20] blocked",
            "198.51.100.20",
            "5.7.1",
        ),
        ("451 4.7.1 Try again later [198.51.100.21]", "198.51.100.21", "4.7.1"),
        (
            "421-4.7.0 [198.51.100.22      15] Our system has detected an unusual rate of\n"
            "421-4.7.0 unsolicited mail originating from your IP address.",
            "198.51.100.22",
            "4.7.0",
        ),
        (
            "said: 421 4.7.0 [TSS04] Messages from 198.51.100.23 temporarily deferred due to"
            " user complaints - 4.16.55.1; see https://postmaster.example.com/error-codes",
            "198.51.100.23",
            "4.7.0",
        ),
    ],
)
def test_the_address_the_reply_refuses_and_the_code_are_found(bounce, address, code):
    facts = read_bounce(bounce)
    assert (facts.address, facts.code) == (address, code)
    assert facts.candidates == [address]


@pytest.mark.parametrize(
    "bounce",
    [
        # The receiving server, however it is written, is not the sender.
        "<a@example.org>: host mx1.example.org[192.0.2.25] said: 550 5.7.1 Message refused",
        "host mx1.example.org [192.0.2.25]\n    SMTP error from remote mail server:\n"
        "    554 5.7.0 Reject, id=12345 - SPAM",
        "Connected to 192.0.2.25 but sender was rejected.\nRemote host said: 550 5.7.1 denied",
        "Reporting-MTA: dns; mx.sender.example [192.0.2.99]\nRemote-MTA: dns; 192.0.2.25\n"
        "Diagnostic-Code: smtp; 550 5.7.1 Message refused",
        # An address printed in a reply that is about something else.
        "550-5.7.1 [198.51.100.5      13] Messages with multiple addresses in From:\n"
        "550 5.7.1 header are not accepted.",
        "550 5.1.0 198.51.100.5 is not allowed to send from <example.net> per its SPF record",
        "550 5.1.1 http://postmaster.example.com/codes?ip=198.51.100.5 Recipient does not exist",
        # Headers alone, and a whole bounce whose only addresses are in the returned message.
        "Received: from a [198.51.100.1] by b [198.51.100.2]; 12:34:56 +0000",
        EXIM_BOUNCE.replace("[203.0.113.7]", "and"),
        MIME_BOUNCE.replace("[203.0.1=\n13.7]", "").replace("[203.0.113.7]", ""),
    ],
)
def test_a_reply_that_names_no_refused_address_gives_none(bounce):
    facts = read_bounce(bounce)
    assert facts.address is None and facts.candidates == []


def test_a_dmarc_refusal_names_no_address_and_says_what_it_means():
    facts = read_bounce(DMARC_NDR)
    assert (facts.address, facts.code, facts.has_reply) == (None, "5.7.509", True)
    assert facts.meaning is not None and "DMARC" in str(facts.meaning.meaning)


def test_several_refused_addresses_are_all_candidates_and_none_is_chosen():
    facts = read_bounce(
        "<a@example.org>: host mx1.example.org[192.0.2.25] said: 550 5.7.606 Access denied,\n"
        "    banned sending IP [203.0.113.7]\n\n"
        "<b@example.net>: host mx2.example.net[192.0.2.26] said: 550 5.7.606 Access denied,\n"
        "    banned sending IP [IPv6:2001:db8::8]\n"
    )
    assert facts.address is None
    assert facts.candidates == ["203.0.113.7", "2001:db8::8"]


def test_text_without_an_address_finds_nothing():
    facts = read_bounce("Delivery failed. Version 2.0.0 at 12:30:01, ref ::, see RFC 5321.")
    assert facts.address is None and facts.candidates == [] and not facts.has_reply


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("5.7.606", "5.7.606-5.7.649"),
        ("5.7.649", "5.7.606-5.7.649"),
        ("5.7.511", "5.7.511"),
        ("5.7.708", "5.7.708"),
        ("5.7.509", "5.7.509"),
        ("5.7.510", "5.7.510"),
        ("S3140", "S3140, S3150"),
        ("S3150", "S3140, S3150"),
        ("5.7.25", "5.7.23, 5.7.25, 5.7.26"),
        ("5.7.605", None),
        ("5.7.650", None),
        ("5.1.1", None),
        (None, None),
    ],
)
def test_each_code_the_help_page_lists_has_its_meaning(code, label):
    meaning = meaning_of(code)
    assert (meaning.label if meaning else None) == label


def test_a_providers_own_code_is_explained_before_the_status_code_in_front_of_it():
    facts = read_bounce(
        "550 5.7.1 Unfortunately, messages from [198.51.100.30] weren't sent. Please contact"
        " your Internet service provider since part of their network is on our block list"
        " (S3150)."
    )
    assert (facts.address, facts.code) == ("198.51.100.30", "S3150")
    assert facts.meaning is not None and "block list" in str(facts.meaning.meaning)


def test_a_policy_code_is_preferred_and_otherwise_the_first_code_is_given():
    assert read_bounce("421 4.4.2 timeout\n554 5.7.1 refused").code == "5.7.1"
    assert read_bounce("421 4.4.2 timeout\n550 5.1.1 no such user").code == "4.4.2"
    assert read_bounce("version 5.7.1.2 and x5.7.1").code is None


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


def test_find_without_a_reply_explains_what_to_paste(client):
    assert "We found no IP address" in page_text(find(client, "Mail delivery failed."))


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


TWO_ADDRESSES = (
    "<a@example.org>: host mx1.example.org[192.0.2.25] said: 550 5.7.606 Access denied,\n"
    "    banned sending IP [203.0.113.7]\n\n"
    "<b@example.net>: host mx2.example.net[192.0.2.26] said: 550 5.7.606 Access denied,\n"
    "    banned sending IP [203.0.113.8]\n"
)


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, ["Its code is 5.7.509", "failed DMARC", "cannot help with this refusal"]),
        (
            {"Accept-Language": "ja"},
            ["コードは 5.7.509 です", "DMARC の検証に失敗しました", "この拒否には対応できません"],
        ),
    ],
)
def test_find_explains_a_refusal_that_names_no_address(client, headers, says):
    page = client.get("/", headers=headers)
    response = client.post(
        "/",
        data={"csrf_token": csrf_token(page.text), "bounce": DMARC_NDR, "find": "Find"},
        headers=headers,
    )
    text = page_text(response)
    assert all(part in text for part in says), text
    assert 'type="text" value=""' in response.text  # the IP field stays empty


def test_find_shows_the_meaning_of_the_code_next_to_the_address(client):
    text = page_text(find(client, POSTFIX_BOUNCE))
    assert "Its code is 5.7.606" in text and "This portal is the place to do it" in text


def test_find_offers_a_choice_among_several_addresses_and_takes_the_chosen_one(app, client):
    add_listings(app, "203.0.113.8")
    offered = find(client, TWO_ADDRESSES)
    assert "Which one do you want to remove?" in page_text(offered)
    for ip in ("203.0.113.7", "203.0.113.8"):
        assert f'<input type="radio" name="chosen_ip" value="{ip}">' in offered.text
    assert 'type="text" value=""' in offered.text

    chosen = choose(client, TWO_ADDRESSES, "203.0.113.8")
    text = page_text(chosen)
    assert "You chose 203.0.113.8" in text and "It is on our list" in text
    assert 'name="chosen_ip" value="203.0.113.8" checked' in chosen.text
    assert 'type="text" value="203.0.113.8"' in chosen.text


@pytest.mark.parametrize("chosen", [None, "198.51.100.1", "not an address"])
def test_choosing_nothing_or_an_address_the_bounce_does_not_name_fills_in_nothing(client, chosen):
    response = choose(client, TWO_ADDRESSES, chosen)
    assert response.status_code == 200
    assert "Choose one of the addresses first." in page_text(response)
    assert 'type="text" value=""' in response.text


def test_sending_with_a_chosen_address_and_no_ip_uses_it(app, client):
    add_listings(app, "203.0.113.8")
    response = submit_with_bounce(client, "", TWO_ADDRESSES, chosen_ip="203.0.113.8")
    assert "Check your inbox" in page_text(response)


def test_addresses_that_cannot_have_sent_the_mail_are_left_out():
    text = (
        "via [127.0.0.1] [::1] [0.0.0.0] [::] [fe80::1] [169.254.0.9] [224.0.0.5] [ff02::1]"
        " [IPv6:::ffff:198.51.100.4] and [198.51.100.5]"
    )
    assert addresses_in(text) == ["198.51.100.4", "198.51.100.5"]
    assert read_bounce("550 5.7.1 blocked: " + text).candidates == ["198.51.100.4", "198.51.100.5"]


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
    reply = "550 5.7.606 Access denied, banned sending IP [203.0.113.7]"
    assert read_bounce(" " * (MAX_BOUNCE_LENGTH - 30) + reply).address is None


@pytest.mark.parametrize(
    ("headers", "dmarc"),
    [({}, "The sending domain failed DMARC"), ({"Accept-Language": "ja"}, "DMARC の検証に失敗")],
)
def test_the_help_page_lists_every_code_the_form_explains(client, headers, dmarc):
    text = page_text(client.get("/help", headers=headers))
    assert all(entry.label in text for entry in MEANINGS)
    assert dmarc in text
