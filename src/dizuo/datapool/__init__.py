"""The data pool: storage classes per pool and a retained volume or bucket per dataset, owned and dated."""
