"""What customers were last told about their job (so a new arrival window is sent only when it moves enough)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.core.models import utc_field


class JobNotice(SQLModel, table=True):
    """The arrival window last told to a job's customers (a new one is sent when it moves enough)."""

    __tablename__ = "job_notice"

    job_id: int = Field(foreign_key="job.id", primary_key=True)
    eta_at: datetime = utc_field(nullable=False)
    sent_at: datetime = utc_field(default_now=True)
    count: int = 1


from server.notify import job_closed as _job_closed  # noqa: E402,F401  (installs the job-closed listener)
