"""Custom widgets: the canvas map and the signature pad."""
