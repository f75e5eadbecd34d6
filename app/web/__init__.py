"""What every web page shares: error pages, security headers, languages, time formatting,
the form base class, template translations, redirect targets and gunicorn's logger.

May import app.core and app.extensions; the blueprints (portal, admin, api) import from here.
"""
