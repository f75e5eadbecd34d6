"""Operator forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length


class LoginForm(FlaskForm):
    email = StringField(_l("Email address"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=256)])
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class TotpForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"), validators=[InputRequired(), Length(max=10)]
    )
    next = HiddenField()
    submit = SubmitField(_l("Verify"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))
