"""Operator accounts: passwords, roles, the second factor, sign-in records, what failed
sign-ins cost the next attempt; API keys.

May import app.core, app.models and app.extensions; never an edge.
"""
