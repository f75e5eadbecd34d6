"""Operator accounts: passwords, roles, the second factor, sign-in records.

May import app.core, app.models and app.extensions; never an edge.
"""
