"""The government cloud: Kubernetes namespaces, quotas, RBAC, network policies and workloads per system."""
