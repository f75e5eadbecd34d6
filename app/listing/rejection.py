"""The reply a mail server gives a listed sender; one wording for every integration."""

from collections.abc import Mapping
from typing import Any


def portal_url(config: Mapping[str, Any]) -> str:
    return config["PUBLIC_BASE_URL"] + "/"


def reject_reply(config: Mapping[str, Any], ip: str) -> str:
    """E.g. "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request ..."."""
    text = config["POLICY_REJECT_TEXT"].format(
        ip=ip, url=portal_url(config), lookup_url=lookup_url(config, ip)
    )
    return f"{config['POLICY_REJECT_CODE']} {text}"


def lookup_url(config: Mapping[str, Any], ip: str) -> str:
    return f"{config['PUBLIC_BASE_URL']}/lookup?ip={ip}"
