"""The one naming rule of the project: deterministic, prefixed, DNS-1123, no random suffixes."""

from __future__ import annotations

import re

MAX_NAME = 63
LABEL_PREFIX = "dizuo.io"
# The tag that carries one of the city's management ports (network.yaml ``management_ports``) on each zone's security
# group, where the policy pack, which is handed a stack's resources and no declaration, reads them.
MANAGEMENT_PORT_TAG = "management-port:"


def name(prefix: str, *parts: str) -> str:
    """``name("yl", "sjj-tyrz", "quota")`` -> ``yl-sjj-tyrz-quota``; stable across runs, valid as a DNS label."""
    joined = "-".join((prefix, *parts)).lower()
    joined = re.sub(r"[^a-z0-9-]+", "-", joined).strip("-")
    if len(joined) > MAX_NAME:
        raise ValueError(f"name {joined!r} is longer than {MAX_NAME} characters; shorten a code in the declaration")
    return joined


def label(key: str) -> str:
    """A label key in dizuo's namespace: ``label("department")`` -> ``dizuo.io/department``."""
    return f"{LABEL_PREFIX}/{key}"


def management_port_tag(port: int) -> str:
    """The security-group tag naming a management port: ``management_port_tag(2222)`` -> ``management-port:2222``."""
    return f"{MANAGEMENT_PORT_TAG}{port}"


def metadata_key(label_key: str) -> str:
    """A label key as object-store metadata, which holds no ``/`` (a bucket carries its dataset's labels this way):
    ``metadata_key("dizuo.io/owner")`` -> ``dizuo.io-owner``."""
    return label_key.replace("/", "-")


def storage_class(prefix: str, pool: str) -> str:
    """The StorageClass of a block or file storage pool (made by the data-pool stack, quota'd by the cloud stack)."""
    return name(prefix, pool)
