"""This process's shared travel-time cache: a large day's places are added a chunk per hold of its lock, so an urgent
insertion needing a few new places is not kept waiting behind a morning plan or the horizon adding thousands."""

from __future__ import annotations

import threading

from server.config import Settings
from server.core.city import load_city
from server.dispatch import problem
from tests.server.dispatch.conftest import CITY_CACHE, SITES


class CountingLock:
    """A real lock that counts how often it was taken."""

    def __init__(self) -> None:
        self.inner, self.taken = threading.Lock(), 0

    def __enter__(self) -> CountingLock:
        self.inner.acquire()
        self.taken += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.release()

    def locked(self) -> bool:
        return self.inner.locked()


def test_places_are_added_a_chunk_per_hold_of_the_lock_and_a_bad_one_is_named(monkeypatch):
    city = load_city(Settings(GROUNDCREW_CACHE_DIR=CITY_CACHE, load_city=True))
    cache = city.network.matrix_cache()  # a cache of its own, not the process's shared one
    lock = CountingLock()
    chunks: list[int] = []
    add_many = cache.add_many

    def watched(coords):  # type: ignore[no-untyped-def]
        assert lock.locked(), "the cache changed without its lock"
        chunks.append(len(coords))
        return add_many(coords)

    monkeypatch.setattr(cache, "add_many", watched)
    monkeypatch.setattr(problem, "ADD_CHUNK", 4)
    places = [(lat + 0.0001 * k, lon) for k in range(2) for lat, lon in SITES[:9]]  # 18 real places
    off_map = (10.0, 10.0)
    bad = problem.add_points(cache, lock, [*places[:5], off_map, *places[5:]])  # type: ignore[arg-type]
    assert list(bad) == [off_map] and "10.0" in bad[off_map]
    assert all(p in cache for p in places)
    assert max(chunks) <= 4
    assert lock.taken == 5  # 19 points, 4 per hold: the lock was free four times in between
