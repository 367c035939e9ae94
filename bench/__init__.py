"""`make bench`: throughput and worker memory against a bare Temporal workflow."""
