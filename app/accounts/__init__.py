"""Operator accounts: passwords, roles, the second factor, sign-in records, and what failed
sign-ins cost the next attempt.

May import app.core, app.models and app.extensions; never an edge.
"""
