"""Sender forms; each check's message is shown next to its field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app, g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

from app.delisting.bounces import BounceFacts, read_bounce
from app.listing.addresses import AddressError, IPAddress, parse_address, parse_sender_address
from app.mail.mailbox import mailbox
from app.web.forms import Form

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
MAX_IP_LENGTH = 100
MAX_HEADERS_LENGTH = 30_000
MAX_NOTE_LENGTH = 2_000
RECEIVED_RE = re.compile(r"^Received:", re.IGNORECASE | re.MULTILINE)


def _checked_email(field: StringField) -> None:
    """One valid email address, on one line, stored in its normalised form."""
    raw = field.data or ""
    if "\r" in raw or "\n" in raw:
        raise ValidationError(_l("Enter one email address, on one line."))
    if len(raw) > MAX_EMAIL_LENGTH:
        raise ValidationError(
            _l(
                "This is too long for an email address (at most %(n)d characters).",
                n=MAX_EMAIL_LENGTH,
            )
        )
    if len(raw.strip().rpartition("@")[0]) > MAX_LOCAL_PART_LENGTH:  # RFC 5321, 4.5.3.1.1
        raise ValidationError(
            _l(
                "The part before the @ is too long (at most %(n)d characters).",
                n=MAX_LOCAL_PART_LENGTH,
            )
        )
    try:
        result = validate_email(
            raw.strip(),
            check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"],
        )
    except EmailNotValidError as exc:
        raise ValidationError(
            _l("This email address is not valid: %(detail)s", detail=str(exc))
        ) from None
    field.data = result.normalized


def normalised_ip(text: str) -> str:
    """The text as a normalised address when it is one, else as it was."""
    try:
        return str(parse_address(text))
    except AddressError:
        return text


class PublicForm(Form):
    """A form anyone can send: a honeypot for bots and the proof of work (app.challenge)."""

    # A honeypot: hidden from people (and screen readers), filled in by form-filling bots.
    website = StringField(_l("Leave this empty"))
    # The browser's proof of work, checked by the view when challenges are on.
    altcha = HiddenField()

    def validate_website(self, field: StringField) -> None:
        if field.data:
            raise ValidationError(_l("Leave this field empty."))


@dataclass(frozen=True)
class Submission:
    """What a sent delist form asks for, checked: one address, one IP, in one language."""

    email: str
    address: IPAddress
    locale: str


class DelistForm(PublicForm):
    email = StringField(
        _l("Your email address"),
        validators=[InputRequired(_l("Enter the email address where we can send the link."))],
        description=_l("Best: the address that received the bounce. We send one link to it."),
    )
    ip = StringField(
        _l("IP address to remove"),
        validators=[InputRequired(_l("Enter the IP address from the bounce message."))],
        description=_l("The address in square brackets in the bounce, e.g. 203.0.113.7."),
    )
    bounce = TextAreaField(
        _l("The bounce message"),
        description=_l(
            "Paste the whole message you got back, or the part with our reply. "
            "We only read it to find the address; it is not stored."
        ),
    )
    # The address the sender kept after we asked about a bounce that names another one.
    ip_checked = HiddenField()
    find = SubmitField(_l("Find the IP address"))
    # Which of the addresses a bounce names the sender chose (radio buttons in the page).
    chosen_ip = StringField()
    choose = SubmitField(_l("Use the chosen address"))
    submit = SubmitField(_l("Email me the confirmation link"))

    address: IPAddress | None = None  # the parsed IP, set by validate_ip
    _bounce: BounceFacts | None = None

    def bounce_facts(self) -> BounceFacts | None:
        """What the pasted bounce says (read once), or None when nothing was pasted."""
        if self._bounce is None and self.bounce.data:
            self._bounce = read_bounce(self.bounce.data)
        return self._bounce

    def bounce_address(self) -> str | None:
        """The address the bounce names, or the one the sender chose among those it names."""
        bounce = self.bounce_facts()
        if bounce is None:
            return None
        chosen = normalised_ip((self.chosen_ip.data or "")[:MAX_IP_LENGTH])
        return bounce.address or (chosen if chosen in bounce.candidates else None)

    def typed_ip(self) -> str:
        return (self.ip.data or "").strip()

    def submitted_ip(self) -> str:
        """The address this submission is for, normalised: typed, or else the bounce's."""
        return normalised_ip(self.typed_ip()[:MAX_IP_LENGTH] or self.bounce_address() or "")

    def submitted_mailbox(self) -> str:
        """The mailbox the link would go to, as the limits per recipient count it."""
        return mailbox((self.email.data or "")[:MAX_EMAIL_LENGTH])

    def take_ip_from_bounce(self) -> None:
        """With the IP field left empty, the bounce's address counts as typed."""
        found = self.bounce_address()
        if found and not self.typed_ip():
            self.ip.raw_data = [found]  # for InputRequired, which reads what was sent
            self.ip.data = found

    def put_bounce_ip_in_field(self) -> None:
        """The Find button: the bounce's address replaces whatever the field held."""
        found = self.bounce_address()
        if found:
            self.ip.data = found

    def ip_needs_a_second_look(self) -> bool:
        """The sender typed another address than the bounce names, and was not asked yet."""
        found = self.bounce_address()
        return bool(found) and found != self.ip.data and self.ip_checked.data != self.ip.data

    def submission(self) -> Submission:
        """The checked request, after validate() has passed."""
        if self.address is None or self.email.data is None:
            raise RuntimeError("the form has not been validated")
        return Submission(self.email.data, self.address, str(get_locale()))

    def validate_email(self, field: StringField) -> None:
        _checked_email(field)

    def validate_ip(self, field: StringField) -> None:
        raw = field.data or ""
        if len(raw) > MAX_IP_LENGTH:
            raise ValidationError(_l("Enter one IP address only."))
        try:
            self.address = parse_sender_address(
                raw, allow_non_global=current_app.config["DELIST_ALLOW_NON_GLOBAL_IPS"]
            )
        except AddressError as exc:
            raise ValidationError(str(exc)) from None
        field.data = str(self.address)


def sent_delist_form() -> DelistForm:
    """This request's delist form, built once: the rate limits count what the view checks."""
    if "delist_form" not in g:
        g.delist_form = DelistForm()
    form: DelistForm = g.delist_form
    return form


class ReportForm(PublicForm):
    email = StringField(
        _l("Your email address"),
        validators=[InputRequired(_l("Enter your email address, in case we have a question."))],
        description=_l("Only our operators see it. We write only if we need to know more."),
    )
    headers = TextAreaField(
        _l("The spam message's full headers"),
        validators=[InputRequired(_l("Paste the headers of the spam message."))],
        description=_l(
            'In your mail program, look for "Show original", "View source" or "Message '
            'headers", and copy everything from the top down to the first empty line.'
        ),
    )
    note = TextAreaField(
        _l("Anything else we should know (optional)"),
        description=_l("For example how often it happens, or since when."),
    )
    submit = SubmitField(_l("Send the report"))

    def validate_email(self, field: StringField) -> None:
        _checked_email(field)

    def validate_headers(self, field: TextAreaField) -> None:
        text = field.data or ""
        if len(text) > MAX_HEADERS_LENGTH:
            raise ValidationError(
                _l("Paste the headers only (at most %(n)d characters).", n=MAX_HEADERS_LENGTH)
            )
        if not RECEIVED_RE.search(text):
            raise ValidationError(
                _l(
                    'These do not look like full headers: they have no "Received:" line, '
                    "which says where the message came from. Copy the message's source "
                    "instead."
                )
            )

    def validate_note(self, field: TextAreaField) -> None:
        if len(field.data or "") > MAX_NOTE_LENGTH:
            raise ValidationError(_l("Please keep this under %(n)d characters.", n=MAX_NOTE_LENGTH))


class LookupForm(Form):
    """A GET form: bookmarkable, nothing changes, so no CSRF token."""

    class Meta:
        csrf = False

    ip = StringField(_l("IP address"))
    submit = SubmitField(_l("Check"))


class ResendForm(Form):
    submit = SubmitField(_l("Send the link again"))


class ConfirmForm(Form):
    submit = SubmitField(_l("Delist IP"))
