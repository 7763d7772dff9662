"""Opt-outs are per channel handle, idempotent, and lifted by an opt-in."""

from __future__ import annotations

from sqlmodel import Session

from server.consent import service as consent


def test_opt_out_is_recorded_once_and_lifted(db: Session) -> None:
    session = db
    assert not consent.is_opted_out(session=session, channel="sms", handle="+15551230000")
    first = consent.record_opt_out(session=session, channel="sms", handle="+15551230000", keyword="STOP")
    again = consent.record_opt_out(session=session, channel="sms", handle="+15551230000", keyword="STOPALL")
    session.commit()
    assert first.id == again.id and again.keyword == "STOP"
    assert consent.is_opted_out(session=session, channel="sms", handle="+15551230000")
    assert not consent.is_opted_out(session=session, channel="email", handle="+15551230000")
    assert not consent.is_opted_out(session=session, channel="sms", handle=None)
    assert consent.record_opt_in(session=session, channel="sms", handle="+15551230000")
    session.commit()
    assert not consent.is_opted_out(session=session, channel="sms", handle="+15551230000")
    assert not consent.record_opt_in(session=session, channel="sms", handle="+15551230000")
