"""Real workloads for the HPU."""
