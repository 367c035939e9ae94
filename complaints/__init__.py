"""Client-side and shared infrastructure: configuration, logging, policy, calendar, intake."""
