"""The Postfix policy service: an in-memory index of the list and the server that answers
mail servers from it.

An edge: may import app.core, app.listing, app.models and app.extensions.
"""
