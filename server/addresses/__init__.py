"""Address points: known addresses imported from files or confirmed in the field, taught to the city."""
