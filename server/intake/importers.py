"""File importers: twcs (Customer Support on Twitter) threads and 311 service requests (Baltimore or generic CSV).

Every row goes through the intake pipeline in its own SAVEPOINT (all or nothing per row); rows are committed
in batches, and a re-run skips what is already stored (idempotent on channel + external id), so an import that
is interrupted and re-run stores every row exactly once."""

from __future__ import annotations

import csv
import math
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from server.config import Settings
from server.conversations import service as conversations
from server.conversations.models import (
    AuthorKind,
    Conversation,
    DeliveryStatus,
    Direction,
    InboundMessage,
    Message,
    Visibility,
)
from server.core.errors import DomainError
from server.core.timeutil import as_utc
from server.customers.models import Channel
from server.identity import service as identity
from server.intake.adapters import build
from server.intake.pipeline import IntakeResult, receive

if TYPE_CHECKING:
    from geodata import City

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
NO_LOCATION = (0.0, 0.0)  # "no coordinates" in many exports; a stand-in point of a city is found from the file
Progress = Callable[[int, int], None]
Points = Collection[tuple[float, float]]


class RowError(ValueError):
    """One row cannot be imported; the message names the column."""


@dataclass
class ImportSummary:
    source: str
    total: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    jobs_created: int = 0
    joined_incidents: int = 0
    needs_location: int = 0
    outbound: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # what became of each imported row, in words
    examples: list[str] = field(default_factory=list)
    placeholder_points: list[tuple[float, float]] = field(default_factory=list)
    placeholder_rows: int = 0
    seconds: float = 0.0

    def reject(self, row_no: int, reason: str) -> None:
        self.rejected += 1
        self.reasons[reason.split(":")[0] + ": " + reason.split(":", 1)[1].strip()[:60] if ":" in reason
                     else reason[:80]] += 1
        if len(self.examples) < 10:
            self.examples.append(f"row {row_no}: {reason}")

    def count(self, result: IntakeResult) -> None:
        if not result.created:
            self.skipped += 1
            return
        self.imported += 1
        self.outcomes[outcome(result)] += 1
        if result.job is not None and result.joined_incident:
            self.joined_incidents += 1
        elif result.job is not None:
            self.jobs_created += 1
        if result.needs_location:
            self.needs_location += 1

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.total, "imported": self.imported, "skipped": self.skipped,
                "rejected": self.rejected, "jobs_created": self.jobs_created,
                "joined_incidents": self.joined_incidents, "needs_location": self.needs_location,
                "outbound": self.outbound, "reject_reasons": dict(self.reasons.most_common()),
                "skip_reasons": dict(self.skip_reasons.most_common()), "outcomes": dict(self.outcomes.most_common()),
                "placeholder_points": [list(p) for p in self.placeholder_points],
                "placeholder_rows": self.placeholder_rows,
                "examples": self.examples, "seconds": round(self.seconds, 2)}


def outcome(result: IntakeResult) -> str:
    """What became of an imported row, in words a newcomer can act on (one kind per row)."""
    case = result.case
    if result.job is not None:
        return ("joined an open job of the same incident (same problem nearby, within the incident window)"
                if result.joined_incident else "became a field job, ready to plan")
    if result.needs_location:
        return "field work, but no place found on the map with confidence: the case waits for a location"
    if case is None:
        return "a public mention not addressed to us: kept for social listening, no case"
    triage = case.triage or {}
    if triage.get("message_id") not in (None, result.message.id):
        return "a follow-up message in a thread that already has a case"
    if not case.needs_field_work:
        if triage.get("outcome") == "out_of_scope":
            return "not a matter of ours (thanks, chatter, another company's product): kept, nothing to do"
        return "no field work (a question, an account or billing matter, or unclear): a case for an agent"
    if (case.geotag or {}).get("outside_service_area"):
        return "field work outside the service area (the place is not on this map): a case for an agent"
    if triage.get("needs_agent"):
        return "field work, category uncertain: an agent confirms it before it becomes a job"
    return ("field work placed on the map, not handed off to a job (automatic hand-off is off, or the demo's job "
            "budget was used): a dispatcher hands it off")


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except UnicodeDecodeError as exc:
        raise RowError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _require_columns(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    if not rows:
        return
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise RowError(f"{path.name}: missing column(s) {', '.join(missing)} (found: {', '.join(list(rows[0])[:12])})")


def _run_rows(
    *, engine: Engine, summary: ImportSummary, items: Iterator[tuple[int, Callable[[Session], Any]]], total: int,
    batch: int, progress: Progress | None,
) -> ImportSummary:
    import time

    t0 = time.perf_counter()
    summary.total = total
    # Nothing stored is read back after a batch commits: no need to expire (and reload) it.
    with Session(engine, expire_on_commit=False) as session:
        for done, (row_no, work) in enumerate(items, start=1):
            try:
                outcome = work(session)
            except (RowError, DomainError, IntegrityError, ValueError) as exc:
                summary.reject(row_no, getattr(exc, "detail", None) or str(exc).splitlines()[0])
            else:
                if isinstance(outcome, IntakeResult):
                    summary.count(outcome)
                elif outcome == "outbound":
                    summary.outbound += 1
                    summary.imported += 1
                elif outcome == "skipped":
                    summary.skipped += 1
                elif outcome == "broadcast":
                    summary.skipped += 1
                    summary.skip_reasons["brand broadcast post (no customer in it)"] += 1
            if done % batch == 0:
                session.commit()
            if progress:
                progress(done, total)
        session.commit()
    summary.seconds = time.perf_counter() - t0
    return summary


# ------------------------------------------------------------------------------------------- twcs
def _twcs_time(value: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        raise RowError(f"created_at: '{value[:40]}' is not a Twitter time (Tue Oct 31 22:10:47 +0000 2017)") from None


def _twcs_id(value: str, column: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return str(int(float(value)))
    except ValueError:
        raise RowError(f"{column}: '{value[:40]}' is not a tweet id") from None


def _twcs_roots(rows: list[dict[str, str]]) -> dict[str, str]:
    parent: dict[str, str | None] = {}
    for row in rows:
        try:
            tid = _twcs_id(row.get("tweet_id", ""), "tweet_id")
            if tid:
                parent[tid] = _twcs_id(row.get("in_response_to_tweet_id", ""), "in_response_to_tweet_id")
        except RowError:
            continue
    roots: dict[str, str] = {}
    for tid in parent:
        node, seen = tid, {tid}
        while parent.get(node) and parent[node] in parent and parent[node] not in seen:
            node = parent[node]  # type: ignore[assignment]
            seen.add(node)
        roots[tid] = node
    return roots


def _twcs_thread_customers(numbered: list[tuple[int, dict[str, str]]], roots: dict[str, str]) -> dict[str, str]:
    """Whom each thread is with: its first customer tweet's author, else the first customer a brand tweet names
    (decided from the whole file, so the result never depends on the order rows are stored in)."""
    out: dict[str, str] = {}
    for inbound_pass in (True, False):
        for _row_no, row in numbered:
            tid = (row.get("tweet_id") or "").strip()
            root = roots.get(tid)
            if root is None or root in out:
                continue
            if inbound_pass and row.get("inbound") == "True" and row.get("author_id"):
                out[root] = row["author_id"].strip()
            elif not inbound_pass and row.get("inbound") == "False":
                named = [w[1:].strip(".,:;!?") for w in (row.get("text") or "").split() if w.startswith("@")]
                if named and named[0]:
                    out[root] = named[0]
    return out


def import_twcs(
    *, engine: Engine, settings: Settings, path: Path, city: City | None = None, batch: int = 200,
    progress: Progress | None = None, limit: int | None = None,
) -> ImportSummary:
    """twcs threads become conversations: customers' tweets go through intake, brand replies are stored as
    outbound agent messages in the same thread."""
    rows = _rows(path)
    _require_columns(path, rows, ("tweet_id", "author_id", "inbound", "created_at", "text", "in_response_to_tweet_id"))
    roots = _twcs_roots(rows)

    def order(item: tuple[int, dict[str, str]]) -> tuple[int, float, int]:
        try:
            return (0, _twcs_time(item[1].get("created_at", "")).timestamp(), item[0])
        except RowError:
            return (1, 0.0, item[0])  # unparseable rows last (they will be rejected with the reason)

    numbered = sorted(enumerate(rows, start=2), key=order)
    if limit is not None:
        numbered = numbered[:limit]
    with_whom = _twcs_thread_customers(numbered, roots)

    def items() -> Iterator[tuple[int, Callable[[Session], Any]]]:
        for row_no, row in numbered:
            yield row_no, (lambda session, row=row: _twcs_row(session, settings, city, row, roots, with_whom))

    return _run_rows(engine=engine, summary=ImportSummary(source=str(path)), items=items(), total=len(numbered),
                     batch=batch, progress=progress)


def _twcs_row(session: Session, settings: Settings, city: City | None, row: dict[str, str],
              roots: dict[str, str], with_whom: dict[str, str]) -> Any:
    tid = _twcs_id(row.get("tweet_id", ""), "tweet_id")
    if not tid:
        raise RowError("tweet_id: required")
    author = (row.get("author_id") or "").strip()
    if not author:
        raise RowError("author_id: required")
    inbound_flag = (row.get("inbound") or "").strip()
    if inbound_flag not in ("True", "False"):
        raise RowError(f"inbound: '{inbound_flag[:20]}' is not True or False")
    sent_at = _twcs_time(row.get("created_at", ""))
    parent = _twcs_id(row.get("in_response_to_tweet_id", ""), "in_response_to_tweet_id")
    text = (row.get("text") or "").replace("\r", "\n")
    thread = f"twcs-{roots.get(tid, tid)}"
    fields = dict(channel=Channel.twitter, external_id=f"twcs-{tid}", author_handle=author, author_name=author,
                  author_verified=True, text=text, sent_at=sent_at, visibility=Visibility.public,
                  reply_to_external_id=f"twcs-{parent}" if parent else None, thread_id=thread)
    message = build(**fields)
    if inbound_flag == "True":
        return receive(session=session, settings=settings, city=city, inbound=message, auto_reply=False)
    return _brand_reply(session, message, with_whom.get(roots.get(tid, tid)))


def _brand_reply(session: Session, message: InboundMessage, customer_handle: str | None) -> str:
    """A brand's tweet: an outbound agent message in the customer's thread (already delivered)."""
    existing = conversations.find_message(session=session, channel=message.channel, external_id=message.external_id)
    if existing is not None:
        if existing.text != message.text:
            raise RowError(f"tweet_id: {message.external_id} was already imported with a different text")
        return "skipped"
    if message.reply_to_external_id is None and "@" not in message.text:
        return "broadcast"  # the brand's own public post: customers' replies to it start the thread
    with session.begin_nested():
        conversation = session.exec(select(Conversation).where(
            Conversation.channel == Channel.twitter, Conversation.external_thread_id == message.thread_id)).first()
        if conversation is None:
            if not customer_handle:
                raise RowError("text: a brand reply in a thread with no customer in it")
            customer = identity.resolve(session=session, inbound=build(
                channel=Channel.twitter, external_id="x", author_handle=customer_handle,
                author_name=customer_handle, author_verified=True, text="-"))
            conversation = Conversation(customer_id=customer.id or 0, channel=Channel.twitter,
                                        external_thread_id=message.thread_id, subject=message.text[:120])
            session.add(conversation)
            session.flush()
        sent_at = as_utc(message.sent_at) if message.sent_at else None
        stored = Message(
            conversation_id=conversation.id or 0, customer_id=conversation.customer_id, channel=Channel.twitter,
            direction=Direction.outbound, author_kind=AuthorKind.agent, author_name=message.author_handle,
            text=message.text, visibility=Visibility.public, external_id=message.external_id,
            reply_to_external_id=message.reply_to_external_id, delivery_status=DeliveryStatus.sent,
            meta={"kind": "agent_reply", "imported": True, "brand": message.author_handle},
            **({"sent_at": sent_at} if sent_at else {}),
        )
        session.add(stored)
        if sent_at and sent_at > as_utc(conversation.last_message_at):
            conversation.last_message_at = sent_at
            session.add(conversation)
        session.flush()
    return "outbound"


# ------------------------------------------------------------------------------------------- 311
BALTIMORE_COLUMNS = ("ServiceRequestNum", "SRType", "CreatedDate", "Address", "Latitude", "Longitude")
GENERIC_COLUMNS = ("id", "text")


def _point(lat_raw: str | None, lon_raw: str | None, placeholders: Points = ()) -> tuple[float, float] | None:
    """The row's point; None when it has none, or (0, 0), or a stand-in point of the file (``placeholders``, see
    `file_placeholders`): the address text is geotagged instead. RowError when the values are not a point."""
    lat_raw, lon_raw = (lat_raw or "").strip(), (lon_raw or "").strip()
    if not lat_raw and not lon_raw:
        return None
    if not lat_raw or not lon_raw:
        raise RowError("lat/lon: give both coordinates or neither")
    try:
        lat, lon = float(lat_raw), float(lon_raw)
    except ValueError:
        raise RowError(f"lat/lon: '{lat_raw[:20]}', '{lon_raw[:20]}' are not numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise RowError(f"lat/lon: ({lat_raw[:20]}, {lon_raw[:20]}) is not a point on Earth")
    if (lat, lon) == NO_LOCATION or (lat, lon) in placeholders:
        return None  # un-geocoded rows carry a placeholder: geotag the address instead
    return lat, lon


def file_placeholders(rows: list[dict[str, str]], address_column: str, lat_column: str,
                      lon_column: str) -> set[tuple[float, float]]:
    """The file's "not geocoded" stand-in points (one point carrying many unrelated addresses; see
    `geodata.address_points.placeholder_points`), from every row that has an address and a numeric point."""
    from geodata.address_points import placeholder_points

    def located() -> Iterator[tuple[str, float, float]]:
        for row in rows:
            address = (row.get(address_column) or "").strip()
            try:
                lat, lon = float(row.get(lat_column) or ""), float(row.get(lon_column) or "")
            except ValueError:
                continue
            if address and math.isfinite(lat) and math.isfinite(lon):
                yield address, lat, lon

    return placeholder_points(located())


def baltimore_row(row: dict[str, str], tz: ZoneInfo,
                  placeholders: Points = ()) -> tuple[InboundMessage, str | None]:
    """A Baltimore 311 row as an inbound Open311 message (and no service code: the text is triaged); a point in
    ``placeholders`` counts as no point."""
    request_id = (row.get("ServiceRequestNum") or "").strip()
    if not request_id:
        raise RowError("ServiceRequestNum: required")
    sr_type = (row.get("SRType") or "").strip()
    if not sr_type:
        raise RowError("SRType: required")
    try:
        created = datetime.strptime((row.get("CreatedDate") or "").strip(), "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=tz)
    except ValueError:
        raise RowError(f"CreatedDate: '{(row.get('CreatedDate') or '')[:30]}' is not MM/DD/YYYY HH:MM:SS AM") from None
    gps = _point(row.get("Latitude"), row.get("Longitude"), placeholders)
    address = (row.get("Address") or "").split(",")[0].strip().title()
    if gps is None and not address:
        raise RowError("location: no coordinates (or the 39,-77 placeholder) and no Address")
    what = sr_type.split("-", 1)[-1].strip()
    text = f"{what} at {address}" if address else what
    return build(
        channel=Channel.open311, external_id=request_id, author_handle=f"311-{request_id}",
        author_name="311 reporter", text=text, sent_at=created, visibility=Visibility.private,
        lat=gps[0] if gps else None, lon=gps[1] if gps else None, place_name=address or None,
        thread_id=request_id, subject=sr_type[:300],
    ), None


def generic_row(row: dict[str, str], tz: ZoneInfo,
                placeholders: Points = ()) -> tuple[InboundMessage, str | None]:
    """A generic 311 CSV row: id, text, [created_at ISO 8601], [lat, lon], [address], [service_code], [name],
    [email], [phone]; a point in ``placeholders`` counts as no point."""
    request_id = (row.get("id") or "").strip()
    if not request_id:
        raise RowError("id: required")
    text = (row.get("text") or "").strip()
    if not text:
        raise RowError("text: required")
    created = None
    if (row.get("created_at") or "").strip():
        try:
            created = datetime.fromisoformat(row["created_at"].strip().replace("Z", "+00:00"))
        except ValueError:
            raise RowError(f"created_at: '{row['created_at'][:30]}' is not an ISO 8601 time") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=tz)
    gps = _point(row.get("lat"), row.get("lon"), placeholders)
    address = (row.get("address") or "").strip()
    if gps is None and not address and not text:
        raise RowError("location: no coordinates and no address")
    email = (row.get("email") or "").strip()
    phone = (row.get("phone") or "").strip()
    handle = email or phone or f"311-{request_id}"
    return build(
        channel=Channel.open311, external_id=request_id, author_handle=handle,
        author_name=(row.get("name") or "").strip() or "311 reporter", text=text + (f" at {address}" if address
                                                                                   and address not in text else ""),
        sent_at=created, visibility=Visibility.private, lat=gps[0] if gps else None, lon=gps[1] if gps else None,
        place_name=address or None, thread_id=request_id,
    ), (row.get("service_code") or "").strip() or None


def import_311(
    *, engine: Engine, settings: Settings, path: Path, fmt: str = "baltimore311", city: City | None = None,
    batch: int = 200, progress: Progress | None = None, limit: int | None = None,
    auto_handoff: bool | None = None,
) -> ImportSummary:
    """311 service requests become geotagged, triaged cases (and jobs when the policy hands them off)."""
    if fmt not in ("baltimore311", "generic"):
        raise RowError("--format must be 'baltimore311' or 'generic'")
    rows = _rows(path)
    _require_columns(path, rows, BALTIMORE_COLUMNS if fmt == "baltimore311" else GENERIC_COLUMNS)
    tz = ZoneInfo(settings.timezone)
    parse = baltimore_row if fmt == "baltimore311" else generic_row
    # The stand-in point of un-geocoded rows is found from the whole file (its address column, or the text of a
    # generic file without one), before any row is taken in.
    columns = (("Address", "Latitude", "Longitude") if fmt == "baltimore311"
               else ("address" if rows and "address" in rows[0] else "text", "lat", "lon"))
    placeholders = file_placeholders(rows, *columns)
    numbered = list(enumerate(rows, start=2))[: limit if limit is not None else None]

    def work(session: Session, row: dict[str, str]) -> IntakeResult:
        inbound, code = parse(row, tz, placeholders)
        return receive(session=session, settings=settings, city=city, inbound=inbound, service_code=code,
                       auto_reply=False, auto_handoff=auto_handoff)

    def items() -> Iterator[tuple[int, Callable[[Session], Any]]]:
        for row_no, row in numbered:
            yield row_no, (lambda session, row=row: work(session, row))

    lat_column, lon_column = columns[1], columns[2]
    summary = ImportSummary(source=str(path), placeholder_points=sorted(placeholders), placeholder_rows=sum(
        1 for _, row in numbered if _on(row, lat_column, lon_column, placeholders)))
    return _run_rows(engine=engine, summary=summary, items=items(), total=len(numbered), batch=batch,
                     progress=progress)


def _on(row: dict[str, str], lat_column: str, lon_column: str, points: Points) -> bool:
    try:
        return (float(row.get(lat_column) or ""), float(row.get(lon_column) or "")) in points
    except ValueError:
        return False
