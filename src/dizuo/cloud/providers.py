"""One explicit Kubernetes provider per declared cluster: no stack ever talks to an implicit default cluster."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from dizuo.declaration.model import Declaration


def cluster_providers(
    stack: str, declaration: Declaration, clusters: set[str] | None = None
) -> dict[str, k8s.Provider]:
    """A provider per cluster (``clusters`` limits which), using kubeconfig context ``<cluster>``.

    A secret ``dizuo:kubeconfig-<cluster>`` in the stack config, if set, is used instead of ~/.kube/config.
    """
    config = pulumi.Config("dizuo")
    providers = {}
    for cluster in declaration.clusters:
        if clusters is not None and cluster.name not in clusters:
            continue
        providers[cluster.name] = k8s.Provider(
            f"{stack}-{cluster.name}",
            context=cluster.name,
            kubeconfig=config.get_secret(f"kubeconfig-{cluster.name}"),
            # Refuse to guess: an unreachable cluster must fail the update, not skip resources.
            enable_server_side_apply=True,
        )
    return providers
