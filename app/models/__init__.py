"""The tables, one module per domain; everything is importable from here.

A package of plain models: may import app.extensions only (and each other).
"""

from app.models.abuse import REPORT_STATUSES, AbuseReport, SpentChallenge
from app.models.allowlist import AllowlistEntry
from app.models.api_key import API_SCOPES, ApiKey
from app.models.audit import AuditEvent
from app.models.enforcement import EnforcementKind, EnforcementPoint
from app.models.listing import (
    END_COLUMNS,
    EXPIRED_BY,
    Listing,
    ListingEvidence,
    ListingFlow,
    ListingFlowChange,
    ListingPrefix,
    ListingTotals,
    ListingTotalsChange,
    before_end,
    ends_by_expiry,
    listing_ends_at,
    listing_in_force,
)
from app.models.mail import OutboxMessage
from app.models.operator import OPERATOR_ROLES, Operator
from app.models.request import (
    OPEN_REQUEST_STATUSES,
    OPEN_REQUEST_WHERE,
    REMOVING_STATUSES,
    REQUEST_STATUSES,
    DelistRequest,
    RequestStatus,
    status_in,
)
from app.models.types import UTCDateTime

__all__ = [
    "API_SCOPES",
    "END_COLUMNS",
    "EXPIRED_BY",
    "OPEN_REQUEST_STATUSES",
    "OPEN_REQUEST_WHERE",
    "OPERATOR_ROLES",
    "REMOVING_STATUSES",
    "REPORT_STATUSES",
    "REQUEST_STATUSES",
    "AbuseReport",
    "AllowlistEntry",
    "ApiKey",
    "AuditEvent",
    "DelistRequest",
    "EnforcementKind",
    "EnforcementPoint",
    "Listing",
    "ListingEvidence",
    "ListingFlow",
    "ListingFlowChange",
    "ListingPrefix",
    "ListingTotals",
    "ListingTotalsChange",
    "Operator",
    "OutboxMessage",
    "RequestStatus",
    "SpentChallenge",
    "UTCDateTime",
    "before_end",
    "ends_by_expiry",
    "listing_ends_at",
    "listing_in_force",
    "status_in",
]
