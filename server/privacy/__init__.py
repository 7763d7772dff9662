"""Privacy: a customer's data exported (GET /customers/{id}/export) or erased (POST /customers/{id}/erase) on request,
and personal details redacted from public text where they are not needed (``redact``).

Erasure keeps the records that the service's history needs (the customer row, their messages, cases, job reports,
audit entries) but removes their personal content: names, handles, addresses, message text and media, places,
triage/geotag details. Provider message ids are kept, so a late redelivery of an erased message is recognised and
refused instead of being stored again.

The audit log is append-only (ORM events refuse updates and deletes, server/audit/models.py). Erasure is the one
exception, and it is narrow: ``service.erase`` rewrites only the ``detail`` of entries about the erased customer (their
customer/identity/conversation/message/case entries, and any entry whose detail contains one of their personal
strings) to ``{"erased": true, "erasure": <id of the erase entry>}`` with a Core UPDATE, in the same transaction as
a new audit entry ``erase`` that records who erased what and why (counts only, no personal content). Who did what
and when stays in the log; what it said about the person does not."""
