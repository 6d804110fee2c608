"""Which TAP field lands in which OCSF attribute: the README's mapping table, and what is kept
under ``unmapped`` (every other field of the record, as the tap wrote it)."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str]  # TAP field, OCSF attribute, why or how

MESSAGE_ROWS: tuple[Row, ...] = (
    ("id", "metadata.uid, metadata.original_event_uid", ""),
    ("GUID", "message_trace_uid, metadata.correlation_uid", "the clicks on it carry it too"),
    ("messageTime", "time, metadata.original_time", "epoch ms; queryEndTime when missing"),
    ("messageID", "email.message_uid", ""),
    ("sender", "from", "the envelope's MAIL FROM (email.smtp_from is deprecated)"),
    ("recipient", "to", "the envelope's RCPT TO (email.smtp_to is deprecated)"),
    ("senderIP", "src_endpoint.ip", ""),
    ("fromAddress", "email.from, email.from_list", "the first header From; all of them"),
    ("headerFrom", "email.from_mailbox", ""),
    ("toAddresses", "email.to", ""),
    ("headerTo", "email.to_mailboxes", "one mailbox per item; kept whole in unmapped"),
    ("ccAddresses", "email.cc", ""),
    ("headerCC", "email.cc_mailboxes", "one mailbox per item; kept whole in unmapped"),
    ("replyToAddress", "email.reply_to_list", "email.reply_to is deprecated"),
    ("headerReplyTo", "email.reply_to_mailboxes", "one mailbox per item; kept whole in unmapped"),
    ("subject", "email.subject", ""),
    ("messageSize", "email.size", ""),
    (
        "messageParts[]",
        "email.files[]",
        "filename, contentType, md5, sha256 (a part without a filename is left out: OCSF "
        "requires a file's name); kept whole in unmapped",
    ),
    ("threatsInfoMap[] (url)", "email.urls[]", "parsed; the whole map stays in unmapped"),
    ("stream", "action_id, disposition_id", "delivered: Allowed; blocked: Denied, Blocked"),
    ("quarantineFolder", "disposition_id", "Quarantined when set (kept in unmapped too)"),
    ("quarantineRule", "policy.name", "the rule that quarantined it (is_applied when blocked)"),
    (
        "threatsInfoMap[].threatStatus, classification",
        "severity_id, is_alert",
        "see Severity below (kept in unmapped)",
    ),
    ("policyRoutes", "direction_id", "Inbound or Outbound by route name (kept in unmapped)"),
    ("cluster", "metadata.tenant_uid", "kept in unmapped too"),
)
CLICK_ROWS: tuple[Row, ...] = (
    ("id", "metadata.uid, metadata.original_event_uid", ""),
    ("GUID", "metadata.correlation_uid", "the message's GUID: joins Email Activity"),
    ("clickTime", "time, metadata.original_time", "epoch ms; queryEndTime when missing"),
    ("url", "web_resources[].url_string, http_request.url", "parsed into its parts"),
    ("userAgent", "http_request.user_agent", ""),
    ("clickIP", "src_endpoint.ip", ""),
    ("recipient", "actor.user.email_addr", "the person who clicked (the host profile's actor)"),
    ("stream", "action_id, disposition_id", "permitted: Allowed; blocked: Denied, Blocked"),
    (
        "threatStatus, classification",
        "severity_id, is_alert",
        "see Severity below (kept in unmapped)",
    ),
)
THREAT_ROWS: tuple[Row, ...] = (
    ("id, fetchedAt", "metadata.uid", "one event per reading of the threat"),
    ("id", "finding_info.uid, metadata.original_event_uid", ""),
    ("name", "finding_info.title", "the id when unnamed; an observable (URL or hash) by type"),
    ("category, type", "finding_info.types", ""),
    ("identifiedAt", "finding_info.created_time, first_seen_time", "epoch ms"),
    ("fetchedAt", "time", "when the tap read it (identifiedAt when missing)"),
    ("detectionType", "finding_info.analytic.name", ""),
    (
        "status",
        "status_id, activity_id, is_alert",
        "active: New; cleared: Resolved; falsePositive: Suppressed",
    ),
    ("severityScore", "severity_id, risk_score", "bands of the 0-1000 score"),
    ("malware[].name", "malware[].name", "classification unknown: TAP does not say"),
)
MESSAGE = frozenset(
    {
        "id", "GUID", "messageTime", "messageID", "sender", "recipient", "senderIP",
        "fromAddress", "headerFrom", "toAddresses", "ccAddresses", "replyToAddress",
        "subject", "messageSize", "quarantineRule",
    }
)  # fmt: skip
"""Message fields kept nowhere but in their OCSF attribute. messageParts and threatsInfoMap are
kept whole in unmapped too (what OCSF has no place for is inside them), and so are the To, Cc
and Reply-To headers, split into mailboxes in ``email``. A value its OCSF type refuses is kept
in unmapped whatever its field."""
CLICK = frozenset({"id", "GUID", "clickTime", "url", "userAgent", "clickIP", "recipient"})
THREAT = frozenset({"id", "name", "identifiedAt", "fetchedAt", "detectionType", "severityScore"})


def unmapped(record: dict[str, Any], mapped: frozenset[str]) -> dict[str, Any]:
    """The record's other fields with a value, under the tap's names (``unknownFields`` too:
    what the API sent that the tap has no column for)."""
    return {k: v for k, v in record.items() if k not in mapped and v is not None}
