"""Tier 0, baseline: cluster-wide security settings on every cluster. Publishes BaselineContract."""

import pulumi

from dizuo import contracts
from dizuo.baseline.cluster import ClusterBaseline, ClusterBaselineArgs, city_storage_classes
from dizuo.cloud.providers import cluster_providers
from dizuo.declaration import load

declaration = load(pulumi.Config("dizuo").require("declaration"))
baselines = [
    ClusterBaseline(
        f"{cluster}-baseline",
        ClusterBaselineArgs(cluster=cluster, storage_classes=city_storage_classes(declaration, cluster)),
        pulumi.ResourceOptions(provider=provider),
    )
    for cluster, provider in cluster_providers("baseline", declaration).items()
]
contracts.export(baselines[0].contract)
