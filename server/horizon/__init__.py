"""The planning horizon: the working days after today planned tentatively, so work that does not fit today has a day."""
