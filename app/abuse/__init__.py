"""Abuse handling for the public forms: abuse reports to the operators' queue and the
proof-of-work challenge.

May import app.core, app.delisting.bounces, app.models and app.extensions; never an edge.
"""
