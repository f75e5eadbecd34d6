"""Sender forms; each check's message is shown next to its field."""

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import InputRequired, ValidationError

from app.addresses import AddressError, parse_sender_address

MAX_EMAIL_LENGTH = 254
MAX_IP_LENGTH = 100


class DelistForm(FlaskForm):
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
    # A honeypot: hidden from people (and screen readers), filled in by form-filling bots.
    website = StringField(_l("Leave this empty"))
    # The browser's proof of work (app.challenge), checked by the view when switched on.
    altcha = HiddenField()
    submit = SubmitField(_l("Email me the confirmation link"))

    address = None  # the parsed IP, set by validate_ip

    def validate_website(self, field: StringField) -> None:
        if field.data:
            raise ValidationError(_l("Leave this field empty."))

    def validate_email(self, field: StringField) -> None:
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


class LookupForm(FlaskForm):
    """A GET form: bookmarkable, nothing changes, so no CSRF token."""

    class Meta:
        csrf = False

    ip = StringField(_l("IP address"))
    submit = SubmitField(_l("Check"))


class ResendForm(FlaskForm):
    submit = SubmitField(_l("Send the link again"))


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("Delist IP"))
