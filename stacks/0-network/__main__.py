"""Tier 0, network: the zones of the e-government network on OpenStack. Publishes NetworkContract."""

import pulumi

from dizuo import contracts
from dizuo.cloud.providers import configured_openstack_region
from dizuo.declaration import load
from dizuo.network.component import CityNetwork, CityNetworkArgs, configured_external_network

config = pulumi.Config("dizuo")
declaration = load(config.require("declaration"))
external_network = configured_external_network(config, declaration.network)
# Every resource of this stack is OpenStack's, made through the default provider, which reads openstack:region from
# this config and, without it, from the operator's environment: refuse rather than build the city in another region.
configured_openstack_region("the network stack makes every zone's network, subnet, router and security groups in it")
ingress_addresses = {c.name: c.ingress_address for c in declaration.clusters if c.ingress_address}
network = CityNetwork(
    declaration.city.prefix,
    CityNetworkArgs(
        prefix=declaration.city.prefix,
        network=declaration.network,
        external_network=external_network,
        ingress_addresses=ingress_addresses,
        renamed_clusters=declaration.former_cluster_names(),
        host_addresses=tuple(h.address for h in declaration.inventory.hosts),
    ),
)
contracts.export(network.contract)
# For the nodes that carry an ingress address (keepalived, MetalLB): their ports list it in allowed_address_pairs.
pulumi.export(
    "ingress_addresses",
    {
        cluster: {"address": address, "port_id": network.ingress_ports[cluster].id}
        for cluster, address in ingress_addresses.items()
    },
)
