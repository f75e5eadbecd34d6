"""The delist request lifecycle: submission, confirmation links, review, the worker's jobs,
and what the sender sees (status, timeline, bounce reading).

May import app.core, app.listing, app.mail, app.models and app.extensions; never an edge.
"""
