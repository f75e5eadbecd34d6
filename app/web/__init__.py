"""What every web page shares: error pages, security headers, languages, time formatting,
the operator's names and theme folder, the form base class, template translations, redirect
targets, rate limits more than one edge applies and how the limiter counts them (one Redis
round trip for a view's limits, none for a request no limit applies to), who a client is
for those limits, gunicorn's logger, and the portal's metrics for Prometheus.

May import app.core, app.extensions and app.listing.addresses (a client's network); the
blueprints (portal, admin, api) import from here.
"""
