"""Tier 0, baseline: cluster-wide security settings on every cluster. Publishes BaselineContract."""

import pulumi

from dizuo import contracts
from dizuo.baseline.cluster import ClusterBaseline, ClusterBaselineArgs, baseline_name, city_storage_classes
from dizuo.cloud.providers import cluster_providers
from dizuo.declaration import load

declaration = load(pulumi.Config("dizuo").require("declaration"))
providers = cluster_providers("baseline", declaration)
baselines = [
    ClusterBaseline(
        baseline_name(cluster.name),
        ClusterBaselineArgs(
            cluster=cluster.name,
            storage_classes=city_storage_classes(declaration, cluster.name),
            former_name=cluster.renamed_from and baseline_name(cluster.renamed_from),
        ),
        pulumi.ResourceOptions(provider=providers[cluster.name]),
    )
    for cluster in declaration.clusters
]
contracts.export(baselines[0].contract)
