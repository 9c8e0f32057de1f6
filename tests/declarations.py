"""Declarations changed in memory, for tests of what reads one (not of loading it)."""

from __future__ import annotations

from dizuo.declaration.model import Declaration


def with_cluster_renamed(declaration: Declaration, old: str, new: str) -> Declaration:
    """``declaration`` with cluster ``old`` renamed ``new`` as clusters.yaml says it (``renamed_from: old``), and its
    systems declared in ``new``."""
    clusters = tuple(
        c.model_copy(update={"name": new, "renamed_from": old}) if c.name == old else c for c in declaration.clusters
    )
    systems = tuple(s.model_copy(update={"cluster": new}) if s.cluster == old else s for s in declaration.systems)
    return declaration.model_copy(update={"clusters": clusters, "systems": systems})
