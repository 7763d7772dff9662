"""Live dispatch latency on the demo city: an urgent job → technician + ETA posted to the customer, and
dispatcher override previews (20 technicians, 200 jobs by default). Same as ``groundcrew bench live``;
the last line printed is JSON.

    python benchmarks/dispatch_live.py --technicians 20 --jobs 200
"""

from __future__ import annotations

import sys

from server.cli import main

if __name__ == "__main__":
    sys.argv = ["groundcrew", "bench", "live", *sys.argv[1:]]
    main()
