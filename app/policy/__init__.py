"""The Postfix policy service: an in-memory index of the list, the server that answers
mail servers from it, and its metrics for Prometheus.

An edge: may import app.core, app.listing, app.models and app.extensions.
"""
