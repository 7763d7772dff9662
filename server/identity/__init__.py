"""Identity resolution: one customer across channels, merges (audited, reversible), suggestions, customer 360."""
