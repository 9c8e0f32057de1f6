"""Tier 1, cloud: one tenant per business system. Reads the network and baseline contracts."""

import pulumi

from dizuo import contracts
from dizuo.cloud import shapes
from dizuo.cloud.component import (
    SystemTenant,
    SystemTenantArgs,
    configured_registry,
    configured_registry_user,
    tenant_name,
)
from dizuo.cloud.providers import cluster_providers
from dizuo.declaration import load

config = pulumi.Config("dizuo")
declaration = load(config.require("declaration"))
network = contracts.read(contracts.NetworkContract, pulumi.get_stack())
baseline = contracts.read(contracts.BaselineContract, pulumi.get_stack())
registry = configured_registry(config)
registry_user = configured_registry_user(config)
providers = cluster_providers("cloud", declaration)
for system in declaration.systems:
    SystemTenant(
        tenant_name(declaration.city.prefix, system),
        SystemTenantArgs(
            declaration=declaration,
            system=system,
            network=network,
            baseline=baseline,
            registry=registry,
            registry_password=config.get_secret("registryPassword"),
            registry_user=registry_user,
        ),
        pulumi.ResourceOptions(provider=providers[system.cluster]),
    )
pulumi.export("namespaces", [system.code for system in declaration.systems])
# For the city's DNS: each name to point at the ingress address of its cluster.
pulumi.export(
    "ingress_hosts",
    {
        shapes.ingress_host(declaration, system): system.cluster
        for system in declaration.systems
        if shapes.served_through_ingress(declaration, system)
    },
)
