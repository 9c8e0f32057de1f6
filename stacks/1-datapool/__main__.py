"""Tier 1, data pool: storage classes and one protected volume or bucket per dataset. Reads the baseline contract."""

import pulumi

from dizuo import contracts
from dizuo.cloud.providers import cluster_providers
from dizuo.datapool.component import DataPool, DataPoolArgs, configured_region
from dizuo.declaration import load

declaration = load(pulumi.Config("dizuo").require("declaration"))
DataPool(
    f"{declaration.city.prefix}-datapool",
    DataPoolArgs(
        declaration=declaration,
        baseline=contracts.read(contracts.BaselineContract, pulumi.get_stack()),
        providers=cluster_providers("datapool", declaration, {c.name for c in declaration.clusters if c.storage_pools}),
        region=configured_region(declaration),
    ),
)
pulumi.export("datasets", [ds.code for ds in declaration.datasets])
