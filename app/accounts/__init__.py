"""Operator accounts: passwords, roles, the second factor, sign-in records; API keys.

May import app.core, app.models and app.extensions; never an edge.
"""
