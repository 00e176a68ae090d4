"""Config section ``[notifications]``: who hears of the pipeline (issue 11).

Two SNS topics reach people and client systems: ``alarms`` (every CloudWatch alarm of the
environment) and ``pipeline-events`` (notify's outcome of every file: ``processed``,
``quarantined`` or ``gone``). Each gets a list of subscribers::

    [notifications]
    https_retries = 10

    [[notifications.alarms]]
    protocol = "email"
    endpoint = "data-oncall@example.com"

    [[notifications.events]]
    protocol = "https"
    endpoint = "https://partner.example.com/pipeline-events"
    datasets = ["orders"]            # filter policy on the message attribute ``dataset``
    statuses = ["processed"]         # filter policy on the message attribute ``status``

Field rules live on the fields; :func:`cross_checks` holds the rules that need the protocol, the
other subscribers or the environment (the on-call rule of staging and prod, the emulator's plain
HTTP). That a ``datasets`` entry names a dataset the pipeline knows is checked by ``main.py``
(the contracts live with the plug-ins, not here).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline_shared.wiring.messages import FINAL_STATUSES

from environments._fields import _between, _one_of

__all__ = ["EVENT_STATUSES", "NotificationsConfig", "SubscriberConfig", "cross_checks", "for_emulator_rehearsal"]

PROTOCOLS = ("email", "https", "sqs")
#: The statuses notify publishes: a file's final statuses, from the stage message schema.
EVENT_STATUSES = FINAL_STATUSES
#: SNS caps the total retry time of an HTTP/S delivery policy at one hour.
MAX_HTTPS_RETRY_SECONDS = 3600
#: Environments whose alarms must reach someone.
ON_CALL_ENVIRONMENTS = ("staging", "prod")
#: Hosts an ``https`` subscriber may name over plain ``http://`` on the emulator (a test server).
EMULATOR_HTTP_HOSTS = ("127.0.0.1", "localhost")

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_SQS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d:(\d{12}):([A-Za-z0-9_-]{1,80}(\.fifo)?)$")
_DATASET_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _each(check: Callable[[str], str | None], constraint: str) -> dict[str, Any]:
    """``metadata=`` of a list-of-strings field: ``check`` runs on every item (``constraint``
    says what it accepts, for the configuration reference)."""
    return {"item_check": check, "constraint": constraint}


def _dataset_name(value: str) -> str | None:
    return None if _DATASET_RE.match(value) else f"must be dataset names (lower-case letters, digits, '_' and '-'), got {value!r}"


def _event_status(value: str) -> str | None:
    if value in EVENT_STATUSES:
        return None
    return f"must be statuses notify publishes ({', '.join(map(repr, EVENT_STATUSES))}), got {value!r}"


@dataclass(frozen=True)
class SubscriberConfig:
    """One ``[[notifications.alarms]]`` or ``[[notifications.events]]`` entry."""

    #: ``email`` (a person or a mailing list; confirmed by clicking the link SNS sends),
    #: ``https`` (a POST of the SNS JSON envelope to a URL; confirmed by the endpoint),
    #: ``sqs`` (a queue of this environment's account; its owner allows the topic to send).
    protocol: str = field(metadata=_one_of(*PROTOCOLS))
    #: An e-mail address, an ``https://`` URL or an SQS queue ARN, after ``protocol``.
    endpoint: str
    #: events only: deliver only outcomes of these datasets (empty: every dataset).
    datasets: tuple[str, ...] = field(default=(), metadata=_each(_dataset_name, "dataset names"))
    #: events only: deliver only these statuses (empty: both).
    statuses: tuple[str, ...] = field(default=(), metadata=_each(_event_status, "statuses from " + ", ".join(EVENT_STATUSES)))
    #: sqs and https only: deliver the message itself instead of SNS's JSON envelope.
    raw_message_delivery: bool = False

    @property
    def filter_policy(self) -> dict[str, list[str]]:
        """The subscription's filter policy on notify's message attributes (empty: no filter)."""
        policy: dict[str, list[str]] = {}
        if self.datasets:
            policy["dataset"] = list(self.datasets)
        if self.statuses:
            policy["status"] = list(self.statuses)
        return policy

    @property
    def sns_protocol(self) -> str:
        """The SNS protocol: ``http`` for a plain-HTTP test endpoint (the emulator only)."""
        if self.protocol == "https" and self.endpoint.startswith("http://"):
            return "http"
        return self.protocol


@dataclass(frozen=True)
class NotificationsConfig:
    """``[notifications]``: the subscribers of the ``alarms`` and ``pipeline-events`` topics, and
    how hard SNS tries an HTTPS subscriber (its delivery policy). Every subscription sends what it
    could not deliver to the topic's delivery dead-letter queue."""

    #: HTTPS delivery policy (healthyRetryPolicy): retries after a failed POST (0..100) ...
    https_retries: int = field(default=10, metadata=_between(0, 100))
    #: ... backing off exponentially from 1 second to this many seconds between attempts.
    https_max_delay_seconds: int = field(default=60, metadata=_between(1, MAX_HTTPS_RETRY_SECONDS))
    #: throttlePolicy: at most this many POSTs per second to one HTTPS subscriber.
    https_max_receives_per_second: int = field(default=10, metadata=_between(1, 10_000))
    #: Subscribers of the ``alarms`` topic (CloudWatch alarms; no filter).
    alarms: tuple[SubscriberConfig, ...] = ()
    #: Subscribers of the ``pipeline-events`` topic (one outcome per file; optional filter).
    events: tuple[SubscriberConfig, ...] = ()


def _endpoint_problem(sub: SubscriberConfig, *, on_emulator: bool, account_id: str) -> str | None:
    value = sub.endpoint
    if sub.protocol == "email":
        return None if _EMAIL_RE.match(value) else f"must be an e-mail address, got {value!r}"
    if sub.protocol == "https":
        try:
            url = urllib.parse.urlsplit(value)
            url.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            url = urllib.parse.urlsplit("")
        clean = bool(url.hostname) and not any(ch.isspace() for ch in value)
        if clean and url.scheme == "https":
            return None
        if clean and on_emulator and url.scheme == "http" and url.hostname in EMULATOR_HTTP_HOSTS:
            return None
        if on_emulator:
            return ("must be an https:// URL (on the emulator also http://127.0.0.1:<port>/... or "
                    f"http://localhost...), got {value!r}")
        return f"must be an https:// URL, got {value!r}"
    match = _SQS_ARN_RE.match(value)
    if not match:
        return f"must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>), got {value!r}"
    if match.group(4):
        return f"a FIFO queue cannot subscribe to a standard SNS topic, got {value!r}"
    if match.group(2) != account_id:
        return (f"must be a queue of this environment's account ({account_id}), got {value!r} "
                "(a queue of another account subscribes from that account)")
    return None


def cross_checks(section: NotificationsConfig, *, env_name: str, on_emulator: bool,
                 account_id: str) -> list[tuple[str, str]]:
    """``(field under notifications, problem)`` for what one field alone cannot say."""
    problems: list[tuple[str, str]] = []
    worst = section.https_retries * section.https_max_delay_seconds
    if worst > MAX_HTTPS_RETRY_SECONDS:
        problems.append(("https_retries", f"{section.https_retries} retries up to {section.https_max_delay_seconds} s "
                                          f"apart may take {worst} s: SNS caps an HTTPS retry policy at "
                                          f"{MAX_HTTPS_RETRY_SECONDS} s (lower https_retries or "
                                          "https_max_delay_seconds)"))
    for topic in ("alarms", "events"):
        seen: dict[tuple[str, str], int] = {}
        for i, sub in enumerate(getattr(section, topic)):
            where = f"{topic}[{i}]"
            problem = _endpoint_problem(sub, on_emulator=on_emulator, account_id=account_id)
            if problem:
                problems.append((f"{where}.endpoint", problem))
            key = (sub.protocol, sub.endpoint)
            if key in seen:
                problems.append((f"{where}.endpoint", f"duplicates {topic}[{seen[key]}] "
                                                      f"({sub.protocol} {sub.endpoint})"))
            seen.setdefault(key, i)
            if topic == "alarms":
                for name in ("datasets", "statuses"):
                    if getattr(sub, name):
                        problems.append((f"{where}.{name}", "alarm messages carry no dataset or status: a filter "
                                                            "would drop every alarm (filters are for events)"))
            for name in ("datasets", "statuses"):
                values = getattr(sub, name)
                doubles = sorted({v for v in values if values.count(v) > 1})
                if doubles:
                    problems.append((f"{where}.{name}", f"lists {', '.join(map(repr, doubles))} more than once"))
            if sub.raw_message_delivery and sub.protocol == "email":
                problems.append((f"{where}.raw_message_delivery", "only applies to sqs and https subscribers"))
    if env_name in ON_CALL_ENVIRONMENTS and not any(s.protocol in ("email", "https") for s in section.alarms):
        problems.append(("alarms", "staging and prod need at least one alarm subscriber "
                                   "(an on-call e-mail or HTTPS endpoint)"))
    return problems


def for_emulator_rehearsal(section: NotificationsConfig) -> NotificationsConfig:
    """An AWS environment's subscribers, rehearsed on the emulator: only the e-mail ones. The
    emulator confirms e-mail subscriptions and never sends mail, but it delivers to HTTPS and SQS
    subscribers synchronously inside Publish, where a real endpoint (or a queue of the real
    account) cannot be reached and notify's Publish would fail."""
    import dataclasses

    return dataclasses.replace(
        section,
        alarms=tuple(s for s in section.alarms if s.protocol == "email"),
        events=tuple(s for s in section.events if s.protocol == "email"),
    )
