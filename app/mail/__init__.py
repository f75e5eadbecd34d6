"""Mail: the transactional outbox, building and sending messages over SMTP, and the
local mail sink of the demo.

May import app.core, app.models and app.extensions; never a domain package or an edge
(the demo's mailbox page is the one blueprint here, registered only when configured).
"""
