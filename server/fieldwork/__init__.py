"""The technician's day in the field: lifecycle steps, completions, location pings."""
