"""Foundations every layer may use: the clock, actors, domain errors, the audit trail,
security log lines, redaction, public URLs, database connections, keyset paging, SQL that
differs between the databases, and CSV writing.

Imports only app.extensions and app.models; never a domain package or an edge.
"""
