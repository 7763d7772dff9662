"""Imported by the forkserver (``_search._pool_context``) for its side effect: the compiled search kernels are loaded
once there, so each solve's worker forked from it starts searching at once instead of spending ~1.5 s of its time
limit loading them."""

from .solve import warm_up

warm_up()
