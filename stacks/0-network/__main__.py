"""Tier 0, network: the zones of the e-government network on OpenStack. Publishes NetworkContract."""

import pulumi

from dizuo import contracts
from dizuo.declaration import load
from dizuo.network.component import CityNetwork, CityNetworkArgs

config = pulumi.Config("dizuo")
declaration = load(config.require("declaration"))
network = CityNetwork(
    declaration.city.prefix,
    CityNetworkArgs(
        prefix=declaration.city.prefix,
        network=declaration.network,
        external_network=config.get("externalNetwork"),
    ),
)
contracts.export(network.contract)
