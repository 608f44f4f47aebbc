"""Alerts where the team looks: a failed run, a failed blocking check and a missing delivery
each post one message to the incoming webhook in ``IMTETL_ALERT_WEBHOOK`` (Slack, or a Teams
connector: both accept ``{"text": ...}``). The message names the job, the school and academic
year, the reason, and links to the run in the UI (``IMTETL_UI_URL``, default
http://127.0.0.1:3000).

Two run status sensors of Dagster's own (their cursor is the last run status event they saw,
kept by the instance, so a restarted daemon neither resends nor forgets): on a failed run, the
failure and that run's checks; on a successful run, its checks. A run's checks are its
ASSET_CHECK_EVALUATION events: a failed check that blocks (its spec says so, as dbt's
error-severity tests do) or has severity ERROR (the staging gates, which hold a school back)
is a failed blocking check; a failed ``deliveries_received`` is a missing delivery.

Without the variable nothing is sent and each tick is skipped with the reason; a webhook that
does not answer is a warning in the tick's log, never a failed sensor."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
import httpx

from imtetl.defs.assets.staging import DELIVERIES
from imtetl.defs.partitions import SETTINGS, school_codes, school_year_partitions

WEBHOOK_ENV = "IMTETL_ALERT_WEBHOOK"
UI_ENV = "IMTETL_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
#: Seconds the webhook may take to answer.
TIMEOUT = 5.0
#: Characters of one reason (an error's first line, a check's description).
REASON_CHARS = 400
#: Reasons listed in one message; the rest are counted.
MAX_REASONS = 10
NOT_SET = f"{WEBHOOK_ENV} is not set"

_RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
_LABEL = re.compile(r"^(\S+) (\d{4})$")  # a LoadReport's label: "IMTA 2023"


def webhook_url() -> str | None:
    return os.environ.get(WEBHOOK_ENV, "").strip() or None


def run_url(run_id: str) -> str:
    base = os.environ.get(UI_ENV, "").strip() or DEFAULT_UI_URL
    return f"{base.rstrip('/')}/runs/{run_id}"


@dataclass
class Scope:
    """The school-years an alert is about."""

    pairs: set[tuple[str, int]] = field(default_factory=set)
    #: the run names no partition: it covers the whole warehouse
    everything: bool = False

    def __bool__(self) -> bool:
        return bool(self.pairs) or self.everything

    def __or__(self, other: Scope) -> Scope:
        return Scope(self.pairs | other.pairs, self.everything or other.everything)

    def schools(self) -> str:
        if not self.pairs:
            return "all schools"
        known = {code: i for i, code in enumerate(school_codes())}
        schools = sorted({s for s, _ in self.pairs}, key=lambda s: (known.get(s, len(known)), s))
        if len(schools) > 1 and set(schools) == set(known):
            return f"all {len(schools)} schools"
        return ", ".join(schools)

    def years(self) -> str:
        if not self.pairs:
            return "all years"
        years = sorted({y for _, y in self.pairs})
        if len(years) > 2 and years == list(range(years[0], years[-1] + 1)):
            return f"{years[0]}-{years[-1]}"
        return ", ".join(map(str, years))


def _pair(key: str) -> tuple[str, int] | None:
    """(school, year) of a partition key such as ``IMTA|2023``."""
    try:
        keys = school_year_partitions.get_partition_key_from_str(key).keys_by_dimension
        return keys["school"], int(keys["year"])
    except Exception:
        school, _, year = key.partition("|")
        return (school, int(year)) if school and year.isdigit() else None


def run_scope(tags: Mapping[str, str]) -> Scope:
    """The school-years a run loads, from its partition tags."""
    if "dagster/partition/school" in tags and tags.get("dagster/partition/year", "").isdigit():
        return Scope({(tags["dagster/partition/school"], int(tags["dagster/partition/year"]))})
    if "dagster/partition" in tags:
        pair = _pair(tags["dagster/partition"])
        return Scope({pair}) if pair else Scope(everything=True)
    if _RANGE[0] in tags and _RANGE[1] in tags:
        try:
            keys = school_year_partitions.get_partition_keys_in_range(
                dg.PartitionKeyRange(tags[_RANGE[0]], tags[_RANGE[1]])
            )
        except Exception:
            keys = [tags[_RANGE[0]], tags[_RANGE[1]]]
        return Scope({p for p in map(_pair, keys) if p})
    return Scope(everything=True)


def _labels(values: Iterable[str]) -> Scope:
    matches = (_LABEL.match(str(v)) for v in values)
    return Scope({(m[1], int(m[2])) for m in matches if m})


def _metadata_value(metadata: Mapping[str, dg.MetadataValue], key: str):
    value = metadata.get(key)
    return getattr(value, "value", value)


def _first_line(text: str | None) -> str:
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


def _escape(text: str) -> str:
    """Slack's three control characters: a school's data (an error quoting a header) must
    not become a link or an @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Alert:
    title: str
    scope: Scope
    reasons: list[str]
    run_id: str
    job_name: str

    def text(self) -> str:
        reasons = self.reasons[:MAX_REASONS]
        if len(self.reasons) > MAX_REASONS:
            reasons.append(f"and {len(self.reasons) - MAX_REASONS} more")
        if len(reasons) == 1:
            reason = f"Reason: {reasons[0]}"
        else:
            reason = "Reasons:\n" + "\n".join(f"• {r}" for r in reasons)
        return "\n".join(
            _escape(line)
            for line in (
                f"imtetl: {self.title}",
                f"School: {self.scope.schools()} | Year: {self.scope.years()}",
                reason,
                f"Job: {self.job_name} | Run: {run_url(self.run_id)}",
            )
        )

    def payload(self) -> dict:
        return {"text": self.text()}


def _step_error(event: dg.DagsterEvent) -> str:
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return _first_line(data.user_failure_data.description)
    error = data.error
    # an exception of the step's own code is the cause of Dagster's wrapper
    while (
        error is not None
        and error.cause is not None
        and (error.cls_name or "").startswith("Dagster")
    ):
        error = error.cause
    return _first_line(error.message if error else None)


def failure_alert(context: dg.RunFailureSensorContext) -> Alert:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    if steps:
        reasons = [f"step {e.step_key} failed: {_step_error(e)}" for e in steps]
    else:
        data = context.failure_event.event_specific_data
        error = getattr(data, "error", None)
        reasons = [
            _first_line(context.failure_event.message)
            + (f": {_first_line(error.message)}" if error is not None else "")
        ]
    return Alert(
        title=f"run of {run.job_name} failed",
        scope=run_scope(run.tags),
        reasons=reasons,
        run_id=run.run_id,
        job_name=run.job_name,
    )


def _evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """The run's last evaluation of each check (a retried step may evaluate it again)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    last: dict[tuple, dg.AssetCheckEvaluation] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        evaluation = event.asset_check_evaluation_data
        last[(evaluation.asset_key, evaluation.check_name, evaluation.partition)] = evaluation
    return list(last.values())


def _check_scope(evaluation: dg.AssetCheckEvaluation, run: dg.DagsterRun) -> Scope:
    held = _metadata_value(evaluation.metadata, "schools_held_back")
    missing = _metadata_value(evaluation.metadata, "missing")
    named = _labels([*(held or {}), *(missing or [])])
    if named:
        return named
    if evaluation.partition and (pair := _pair(evaluation.partition)):
        return Scope({pair})
    scope = run_scope(run.tags)
    path = evaluation.asset_key.path
    if len(path) == 2 and path[0] == "landing":  # one school's API fetch: its years of the run
        school = path[1]
        years = {y for s, y in scope.pairs if s == school} or {y for _, y in scope.pairs}
        return Scope({(school, y) for y in years or SETTINGS.years})
    return scope


def _is_blocking(evaluation: dg.AssetCheckEvaluation) -> bool:
    return not evaluation.passed and (
        bool(evaluation.blocking) or evaluation.severity == dg.AssetCheckSeverity.ERROR
    )


def check_alerts(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[Alert]:
    """At most two alerts for the run: its failed blocking checks, its missing deliveries."""
    evaluations = _evaluations(instance, run.run_id)
    alerts = []
    blocking = [e for e in evaluations if _is_blocking(e)]
    if blocking:
        scope = Scope()
        for evaluation in blocking:
            scope = scope | _check_scope(evaluation, run)
        alerts.append(
            Alert(
                title=(
                    f"blocking check failed: {blocking[0].asset_key.to_user_string()} "
                    f"{blocking[0].check_name}"
                    if len(blocking) == 1
                    else f"{len(blocking)} blocking checks failed"
                ),
                scope=scope,
                reasons=[
                    f"{e.asset_key.to_user_string()} {e.check_name}: "
                    f"{_first_line(e.description) or 'failed'}"
                    for e in blocking
                ],
                run_id=run.run_id,
                job_name=run.job_name,
            )
        )
    deliveries = [e for e in evaluations if e.check_name == DELIVERIES and not e.passed]
    if deliveries:
        scope, reasons = Scope(), []
        for evaluation in deliveries:
            dataset = evaluation.asset_key.path[-1]
            named = _check_scope(evaluation, run)
            scope = scope | named
            reasons.extend(
                f"{school} sent no {dataset} export for {year}, a year its YAML says it "
                "delivers (audit.deliveries)"
                for school, year in sorted(named.pairs)
            )
            if not named.pairs:
                reasons.append(f"{dataset}: {_first_line(evaluation.description)}")
        alerts.append(
            Alert(
                title="missing delivery" if len(reasons) == 1 else "missing deliveries",
                scope=scope,
                reasons=reasons,
                run_id=run.run_id,
                job_name=run.job_name,
            )
        )
    return alerts


def _redact(text: str, url: str) -> tuple[str, str]:
    """The webhook's URL is its secret: only its scheme and host may be logged. Returns the
    text without it, and what stands for it."""
    try:
        parsed = httpx.URL(url)
        shown = f"{parsed.scheme}://{parsed.host}/…"
    except Exception:
        shown = "(the webhook)"
    return text.replace(url, shown), shown


def post(url: str, alert: Alert, log) -> str | None:
    """POST the alert; None when it was delivered, else why not (logged as a warning)."""
    try:
        response = httpx.post(url, json=alert.payload(), timeout=TIMEOUT)
        if response.is_success:
            return None
        problem = f"the webhook answered HTTP {response.status_code}"
    except Exception as exc:  # never fail the sensor: the run's result is in Dagster anyway
        problem = f"{type(exc).__name__}: {exc}"
    problem, shown = _redact(problem, url)
    problem = f"alert not sent to {shown} ({alert.title}, run {alert.run_id}): {problem}"
    log.warning(problem)
    return problem


def send(url: str, alerts: Sequence[Alert], log) -> dg.SkipReason | None:
    """Post each alert; the first that cannot be posted ends this run's (the webhook is down:
    the tick ends instead of waiting for every timeout)."""
    for alert in alerts:
        problem = post(url, alert, log)
        if problem is not None:
            return dg.SkipReason(problem)
        log.info(f"alert posted: {alert.title} (run {alert.run_id})")
    return None


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    monitor_all_code_locations=True,  # the CLI's runs too (in process, without a code location)
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"A failed run posts one message to the webhook in {WEBHOOK_ENV} (job, school "
    "and year, the failed step and its error, a link to the run); its failed blocking checks "
    "and missing deliveries one more each. Does nothing while the variable is not set.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    url = webhook_url()
    if url is None:
        return dg.SkipReason(NOT_SET)
    return send(
        url,
        [failure_alert(context), *check_alerts(context.instance, context.dagster_run)],
        context.log,
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_checks",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"A successful run whose blocking check failed (a school held back, a dbt "
    "error test) or whose school sent no export for a year it covers posts one message for "
    f"each to the webhook in {WEBHOOK_ENV}. Does nothing while the variable is not set.",
)
def alert_on_checks(context: dg.RunStatusSensorContext):
    url = webhook_url()
    if url is None:
        return dg.SkipReason(NOT_SET)
    return send(url, check_alerts(context.instance, context.dagster_run), context.log)


alert_sensors = [alert_on_run_failure, alert_on_checks]
