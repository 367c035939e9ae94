"""`make demo`: a realistic mix of complaints driven through the staff CLI under a compressed policy."""
