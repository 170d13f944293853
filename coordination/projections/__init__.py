"""Read models projected from the log: incident views, unit queues, leases, holdings."""
