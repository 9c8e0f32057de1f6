"""The e-government network: OpenStack networks, subnets, routers and security groups per zone."""
