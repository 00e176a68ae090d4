"""CloudWatch for the pipeline: the environment's dashboard, error-log metric filters and
alarms on the plug-ins' EMF metrics.

The plug-ins write their own metrics as EMF (``pipeline_shared.runtime.emit_file_metrics``):
namespace ``POWERTOOLS_METRICS_NAMESPACE`` (``PipelineKit``), **one dimension set of exactly
(``dataset``, ``service``)**, ``service`` being the plug-in's name (``POWERTOOLS_SERVICE_NAME``).
CloudWatch identifies a metric by all of its dimensions, so a query or alarm must name both
(``RejectedRowsAlarm``), or search across ``service`` (the dashboard's per-dataset widgets use
``SEARCH`` so that they show whichever plug-ins emit a metric, without knowing them here).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (
    CloudwatchLogMetricFilter,
    CloudwatchLogMetricFilterMetricTransformation,
)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct

#: What the plug-ins' Powertools Metrics use (``POWERTOOLS_METRICS_NAMESPACE``).
DEFAULT_METRICS_NAMESPACE = "PipelineKit"
#: Per-dataset record counters (``runtime.COUNT_METRICS``) shown on the dashboard.
RECORD_METRICS = ("RecordsIn", "RecordsOut", "RecordsRejected", "RecordsDuplicate")
#: Per-dataset file counters (validate: FilesQuarantined; notify: FilesProcessed/FilesQuarantined).
FILE_METRICS = ("FilesProcessed", "FilesQuarantined", "FilesGone")
#: Powertools Logger writes JSON with ``"level"``; Lambda's JSON log format uses the same key.
ERROR_LOG_PATTERN = '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'

_DASHBOARD_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_WIDTH = 24  # the dashboard grid is 24 units wide


@dataclass(frozen=True)
class StageRefs:
    """One pipeline stage as the dashboard sees it: the plug-in's ``name`` (also its EMF
    ``service`` dimension), its function, its input queue and that queue's dead-letter queue."""

    name: str
    function_name: str
    queue_name: str
    dlq_name: str


def _check_period(period_seconds: int, what: str) -> None:
    # CloudWatch takes 10 or 30 (high resolution) or a multiple of 60
    if period_seconds not in (10, 30) and (period_seconds < 60 or period_seconds % 60):
        raise ValueError(f"{what}: period_seconds must be 10, 30 or a multiple of 60, got {period_seconds}")


def _search(namespace: str, metric: str, dataset: str | None, stat: str, period: int) -> str:
    """A ``SEARCH`` over the EMF schema (``dataset``, ``service``): one series per plug-in."""
    where = f'MetricName="{metric}"' + (f' dataset="{dataset}"' if dataset is not None else "")
    return f"SEARCH('{{\"{namespace}\",dataset,service}} {where}', '{stat}', {period})"


def _widget(x: int, y: int, width: int, height: int, title: str, region: str, metrics: list[list[Any]],
            *, stat: str, period: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "metric", "x": x, "y": y, "width": width, "height": height,
        "properties": {"metrics": metrics, "view": "timeSeries", "stacked": False, "region": region,
                       "title": title, "stat": stat, "period": period, **extra},
    }


def dashboard_body(*, title: str, region: str, stages: Sequence[StageRefs], datasets: Sequence[str],
                   metrics_namespace: str = DEFAULT_METRICS_NAMESPACE, period_seconds: int = 300) -> dict[str, Any]:
    """The dashboard as data (``dashboard_body`` is its JSON): a text header; per stage one row
    of throughput, errors, duration (p50/p90/p99), DLQ depth and age of the oldest message;
    rejected rows across datasets; per dataset its record and file counters (EMF)."""
    p = period_seconds
    widgets: list[dict[str, Any]] = []
    stage_list = ", ".join(f"`{s.name}`" for s in stages)
    widgets.append({
        "type": "text", "x": 0, "y": 0, "width": _WIDTH, "height": 2,
        "properties": {"markdown": f"# {title}\nStages: {stage_list}. "
                                   f"Custom metrics: namespace `{metrics_namespace}` (EMF, per dataset and plug-in)."},
    })
    y = 2
    for s in stages:
        fn = ["FunctionName", s.function_name]
        widgets += [
            _widget(0, y, 6, 6, f"{s.name}: throughput", region, [
                ["AWS/SQS", "NumberOfMessagesSent", "QueueName", s.queue_name, {"label": "messages sent"}],
                ["AWS/SQS", "NumberOfMessagesReceived", "QueueName", s.queue_name, {"label": "messages received"}],
                ["AWS/Lambda", "Invocations", *fn, {"label": "invocations"}],
            ], stat="Sum", period=p),
            _widget(6, y, 6, 6, f"{s.name}: errors", region, [
                ["AWS/Lambda", "Errors", *fn, {"label": "errors"}],
                ["AWS/Lambda", "Throttles", *fn, {"label": "throttles"}],
            ], stat="Sum", period=p),
            _widget(12, y, 4, 6, f"{s.name}: duration", region, [
                ["AWS/Lambda", "Duration", *fn, {"stat": q, "label": q}] for q in ("p50", "p90", "p99")
            ], stat="p50", period=p),
            _widget(16, y, 4, 6, f"{s.name}: DLQ depth", region, [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", s.dlq_name,
                 {"label": "messages in DLQ"}],
            ], stat="Maximum", period=p),
            _widget(20, y, 4, 6, f"{s.name}: age of oldest message", region, [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", s.queue_name, {"label": "seconds"}],
            ], stat="Maximum", period=p),
        ]
        y += 6
    widgets.append(_widget(0, y, _WIDTH, 6, "rejected rows by dataset", region, [
        [{"expression": _search(metrics_namespace, "RecordsRejected", None, "Sum", p), "id": "rejected"}],
    ], stat="Sum", period=p))
    y += 6
    for i, dataset in enumerate(datasets):
        widgets += [
            _widget(0, y, 12, 6, f"{dataset}: records", region, [
                [{"expression": _search(metrics_namespace, m, dataset, "Sum", p), "id": f"r{i}_{j}"}]
                for j, m in enumerate(RECORD_METRICS)
            ], stat="Sum", period=p),
            _widget(12, y, 12, 6, f"{dataset}: files", region, [
                [{"expression": _search(metrics_namespace, m, dataset, "Sum", p), "id": f"f{i}_{j}"}]
                for j, m in enumerate(FILE_METRICS)
            ], stat="Sum", period=p),
        ]
        y += 6
    return {"widgets": widgets}


class PipelineDashboard(Construct):
    """The environment's CloudWatch dashboard (``.dashboard``), see :func:`dashboard_body`."""

    dashboard: CloudwatchDashboard

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        region: str,
        stages: Sequence[StageRefs],
        datasets: Sequence[str],
        metrics_namespace: str = DEFAULT_METRICS_NAMESPACE,
        period_seconds: int = 300,
    ) -> None:
        super().__init__(scope, id)
        if not _DASHBOARD_NAME_RE.match(name):
            raise ValueError(f"dashboard {name!r}: use 1-255 letters, digits, '-' or '_'")
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"dashboard {name}: stage names must be unique, got {names}")
        if len(set(datasets)) != len(datasets):
            raise ValueError(f"dashboard {name}: datasets must be unique, got {list(datasets)}")
        _check_period(period_seconds, f"dashboard {name}")
        body = dashboard_body(title=name, region=region, stages=stages, datasets=datasets,
                              metrics_namespace=metrics_namespace, period_seconds=period_seconds)
        self.dashboard = CloudwatchDashboard(
            self, "dashboard",
            dashboard_name=name,
            dashboard_body=json.dumps(body, separators=(",", ":"), sort_keys=True),
        )


class ErrorLogMetricFilter(Construct):
    """A metric filter on ``log_group_name`` counting Powertools error logs (JSON ``level`` ERROR
    or CRITICAL: value 1 per matching event, 0 otherwise) into ``namespace``/``metric_name``,
    and an alarm (``.alarm``) on that count to the alarms topic.

    The metric has no dimensions: give each log group its own ``metric_name`` (and each
    environment sharing an account its own ``namespace``)."""

    filter: CloudwatchLogMetricFilter
    alarm: CloudwatchMetricAlarm

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        log_group_name: str,
        namespace: str,
        metric_name: str,
        alarm_topic_arn: str,
        threshold: int = 1,
        period_seconds: int = 300,
        evaluation_periods: int = 1,
        pattern: str = ERROR_LOG_PATTERN,
    ) -> None:
        super().__init__(scope, id)
        if threshold < 1:
            raise ValueError(f"error-log alarm {name}: threshold must be at least 1, got {threshold}")
        if evaluation_periods < 1:
            raise ValueError(f"error-log alarm {name}: evaluation_periods must be at least 1, got {evaluation_periods}")
        _check_period(period_seconds, f"error-log alarm {name}")
        self.filter = CloudwatchLogMetricFilter(
            self, "filter",
            name=name,
            log_group_name=log_group_name,
            pattern=pattern,
            metric_transformation=CloudwatchLogMetricFilterMetricTransformation(
                name=metric_name, namespace=namespace, value="1", default_value="0", unit="Count"),
        )
        self.alarm = CloudwatchMetricAlarm(
            self, "alarm",
            alarm_name=name,
            alarm_description=f"error logs in {log_group_name}",
            namespace=namespace, metric_name=metric_name, statistic="Sum",
            period=period_seconds, evaluation_periods=evaluation_periods,
            threshold=threshold, comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[alarm_topic_arn], ok_actions=[alarm_topic_arn],
            # the metric exists only once the filter does
            depends_on=[self.filter],
        )


class RejectedRowsAlarm(Construct):
    """An alarm (``.alarm``) when ``service`` (the plug-in that emits ``RecordsRejected``, e.g.
    ``validate``) rejects at least ``threshold`` rows of ``dataset`` within a period."""

    alarm: CloudwatchMetricAlarm

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        dataset: str,
        service: str,
        alarm_topic_arn: str,
        threshold: int = 1,
        metrics_namespace: str = DEFAULT_METRICS_NAMESPACE,
        period_seconds: int = 300,
        evaluation_periods: int = 1,
    ) -> None:
        super().__init__(scope, id)
        if threshold < 1:
            raise ValueError(f"rejected-rows alarm {name}: threshold must be at least 1, got {threshold}")
        if evaluation_periods < 1:
            raise ValueError(
                f"rejected-rows alarm {name}: evaluation_periods must be at least 1, got {evaluation_periods}")
        _check_period(period_seconds, f"rejected-rows alarm {name}")
        self.alarm = CloudwatchMetricAlarm(
            self, "alarm",
            alarm_name=name,
            alarm_description=f"{service}: rows of dataset {dataset} rejected",
            namespace=metrics_namespace, metric_name="RecordsRejected",
            # the EMF dimension set is exactly (dataset, service): both are needed
            dimensions={"dataset": dataset, "service": service},
            statistic="Sum", period=period_seconds, evaluation_periods=evaluation_periods,
            threshold=threshold, comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[alarm_topic_arn], ok_actions=[alarm_topic_arn],
        )
