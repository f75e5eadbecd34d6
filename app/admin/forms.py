"""Operator forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from app.listing import lifetimes
from app.listing.addresses import AddressError, IPNetwork, parse_network
from app.listing.blocklist import MAX_REASON_LENGTH
from app.web.forms import Form
from config import MAX_LIFETIME_SECONDS


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


class NetworkForm(Form):
    """An address or range with a reason; the parsed network is kept in `parsed`."""

    network = StringField(
        _l("Address or CIDR range"),
        validators=[InputRequired(), Length(max=100)],
        description=_l("e.g. 203.0.113.7 or 198.51.100.0/24"),
    )
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(max=MAX_REASON_LENGTH)])

    parsed: IPNetwork | None = None  # set by validate_network

    def validate_network(self, field: StringField) -> None:
        try:
            self.parsed = parse_network(field.data or "")
        except AddressError as exc:
            raise ValidationError(str(exc)) from None


class ListingForm(NetworkForm):
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
    expires_in = IntegerField(
        _l("Lifetime in seconds"),
        validators=[Optional(), NumberRange(min=1, max=MAX_LIFETIME_SECONDS)],
        description=_l("Empty: the default lifetime (longer for a repeat offender)."),
    )
    permanent = BooleanField(_l("Permanent: never expires until removed"))
    submit = SubmitField(_l("Add listing"))

    def validate_permanent(self, field: BooleanField) -> None:
        if field.data and self.expires_in.data is not None:
            raise ValidationError(_l("Give a lifetime or make it permanent, not both."))

    def lifetime(self) -> lifetimes.Asked:
        """The lifetime asked for (after validation)."""
        return lifetimes.Asked(self.expires_in.data, bool(self.permanent.data))

    def notes_text(self) -> str | None:
        """The notes as stored: None when left empty."""
        return (self.notes.data or "").strip() or None


class AllowlistForm(NetworkForm):
    reason = StringField(
        _l("Reason"),
        validators=[InputRequired(), Length(max=MAX_REASON_LENGTH)],
        description=_l("Why it must never be listed, e.g. our outbound relays."),
    )
    submit = SubmitField(_l("Add to the allowlist"))


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
