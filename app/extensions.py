"""Flask extensions, created once and bound to the app in create_app()."""

from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.web.clients import client_key
from app.web.limit_counting import Limiter

# Stable constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# The models' base class. A type checker cannot derive a class from an attribute of an
# instance (db.Model), so to it the models derive from Base, which db.Model extends.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model

migrate = Migrate(render_as_batch=True)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Limits are declared per view; storage and switches come from RATELIMIT_* settings.
# A limit without its own key counts per client: an IPv4 address or an IPv6 /64.
# Flask-Limiter's own, skipping requests no limit applies to and counting a view's limits
# in one Redis round trip (app.web.limit_counting).
limiter = Limiter(key_func=client_key)
