"""Operator forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from app.core.errors import Invalid
from app.listing.addresses import AddressError, IPNetwork, parse_network
from app.listing.blocklist import MAX_REASON_LENGTH, check_listable
from app.web.forms import Form


class LoginForm(Form):
    email = StringField(_l("Email address"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=256)])
    next = HiddenField()
    # The browser's proof of work, needed only for an account with many failed sign-ins.
    altcha = HiddenField()
    submit = SubmitField(_l("Sign in"))

    def credentials(self) -> tuple[str, str]:
        return self.email.data or "", self.password.data or ""


class TotpForm(Form):
    code = StringField(
        _l("Code from your authenticator app"), validators=[InputRequired(), Length(max=10)]
    )
    next = HiddenField()
    submit = SubmitField(_l("Verify"))


class LogoutForm(Form):
    submit = SubmitField(_l("Sign out"))


class ListingForm(Form):
    network = StringField(
        _l("Address or CIDR range"),
        validators=[InputRequired(), Length(max=100)],
        description=_l("e.g. 203.0.113.7 or 198.51.100.0/24"),
    )
    reason = StringField(
        _l("Reason"),
        validators=[InputRequired(), Length(max=MAX_REASON_LENGTH)],
        description=_l("Shown to senders who look the address up."),
    )
    notes = TextAreaField(
        _l("Evidence and notes"),
        validators=[Length(max=5000)],
        description=_l("For operators only."),
    )
    submit = SubmitField(_l("Add listing"))

    parsed: IPNetwork | None = None  # set by validate_network

    def notes_text(self) -> str | None:
        """The notes as stored: None when left empty."""
        return (self.notes.data or "").strip() or None

    def validate_network(self, field: StringField) -> None:
        try:
            parsed = parse_network(field.data or "")
            check_listable(parsed.version, parsed.prefixlen)
        except (AddressError, Invalid) as exc:
            raise ValidationError(str(exc)) from None
        self.parsed = parsed


class ActionForm(Form):
    """An admin action on one record; the reason goes into the audit log."""

    why = StringField(_l("Why"), validators=[InputRequired(), Length(max=MAX_REASON_LENGTH)])
    submit = SubmitField(_l("Confirm"))

    def reason(self) -> str:
        return (self.why.data or "").strip()


class ImportForm(Form):
    file = FileField(
        _l("File"),
        validators=[FileRequired()],
        description=_l(
            "A plain list (one address or CIDR per line, # comments) or a CSV with "
            "a network column and optional reason and notes columns."
        ),
    )
    reason = StringField(
        _l("Reason"),
        validators=[Length(max=500)],
        description=_l("For lines that do not give their own reason."),
    )
    submit = SubmitField(_l("Import"))

    def default_reason(self) -> str | None:
        """The reason for lines without their own, or None when left empty."""
        return (self.reason.data or "").strip() or None
