"""Devices: inventory, leases, quota policy, kernel provisioner and backends."""
