"""Aliases: how a stack takes a deployed resource for one the declaration now names otherwise."""

from __future__ import annotations

import pulumi


def aliased(opts: pulumi.ResourceOptions, *names: str | None) -> pulumi.ResourceOptions:
    """``opts`` with an alias to each of the resource's former ``names`` (None: none), its name under a zone's, subnet's
    or cluster's ``renamed_from`` or as dizuo 0.1.0 named it: Pulumi then takes the deployed resource for this one, and
    updates what changed in place, instead of replacing it."""
    formers = sorted({n for n in names if n is not None})
    if not formers:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=n) for n in formers]))
