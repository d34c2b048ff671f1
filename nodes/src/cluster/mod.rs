//! The cluster: nodes sharing 64 shards through leases, routing commands to shard owners.
