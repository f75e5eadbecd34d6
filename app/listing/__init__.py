"""The list itself: parsing addresses, the listing rules (add, remove, schedule, finalise),
what may never be listed (the guard and the allowlist), lookups and the prefix lengths they
probe, operator search, bulk import, exports, the dashboard count and the reject text.

May import app.core, app.models and app.extensions; never the request lifecycle or an edge.
"""
