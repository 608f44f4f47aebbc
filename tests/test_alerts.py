"""Alerts (imtetl/defs/alerts.py): a failed run, a failed blocking check and a missing
delivery each post one message to a real webhook on 127.0.0.1; without IMTETL_ALERT_WEBHOOK
nothing is sent, and a webhook that does not answer is a warning, never a failed sensor.

The runs are tiny in-process runs of a stand-in staging asset on the project's school × year
partitions, in an ephemeral instance."""

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import dagster as dg
import pytest

from imtetl.defs.alerts import (
    NOT_SET,
    UI_ENV,
    WEBHOOK_ENV,
    alert_on_checks,
    alert_on_run_failure,
    run_scope,
)
from imtetl.defs.assets.staging import DELIVERIES, FEES, SUITE
from imtetl.defs.partitions import SETTINGS, school_codes, school_year_partitions
from imtetl.defs.schedules import range_tags
from tests.api_server import serving

UI = "http://dagster.test:3000"
PARTITION = "IMTA|2023"
KEY = dg.AssetKey(["staging", "enrolment"])


class Outcome(dg.Config):
    crash: bool = False
    crash_after_checks: bool = False
    held_back: bool = False
    missing: bool = False
    #: the one school-year of the run with no export (else every one, when ``missing``)
    missing_only: str = ""
    fees_off: bool = False


@dg.asset(
    key=KEY,
    partitions_def=school_year_partitions,
    check_specs=[
        dg.AssetCheckSpec(SUITE, asset=KEY),
        dg.AssetCheckSpec(DELIVERIES, asset=KEY),
        dg.AssetCheckSpec(FEES, asset=KEY),
    ],
)
def staging_enrolment(context: dg.AssetExecutionContext, config: Outcome):
    labels = [key.replace("|", " ") for key in context.partition_keys]  # "IMTA 2023"
    label, school = labels[0], labels[0].split()[0]
    missing = [config.missing_only] if config.missing_only else labels if config.missing else []
    if config.crash:
        raise ValueError(f"cannot read {school}/enrolment.csv: no header\n  (more detail)")
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=SUITE,
                passed=not config.held_back,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{label} held back: nationality <!channel> not in ISO 3166"
                if config.held_back
                else "every school's rows meet the suite",
                metadata={
                    "schools_held_back": dg.MetadataValue.json(
                        {label: ["nationality"]} if config.held_back else {}
                    )
                },
            ),
            dg.AssetCheckResult(
                check_name=DELIVERIES,
                passed=not missing,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"missing delivery: no export for {', '.join(missing)}, a year the "
                "school covers"
                if missing
                else "every covered year has an export",
                metadata={"missing": dg.MetadataValue.json(missing)},
            ),
            dg.AssetCheckResult(
                check_name=FEES,
                passed=not config.fees_off,
                severity=dg.AssetCheckSeverity.WARN,  # a warning: never an alert
                description="3 fees depart from the regulated fee",
            ),
        ]
    )
    if config.crash_after_checks:
        raise RuntimeError("the build database is locked")


JOB = dg.Definitions(
    assets=[staging_enrolment],
    jobs=[dg.define_asset_job("build_warehouse", selection=[KEY])],
).resolve_job_def("build_warehouse")


def _run(instance: dg.DagsterInstance, tags=None, **outcome) -> dg.ExecuteInProcessResult:
    return JOB.execute_in_process(
        instance=instance,
        partition_key=None if tags else PARTITION,
        tags=tags,
        run_config={"ops": {"staging__enrolment": {"config": outcome}}},
        raise_on_error=False,
    )


def _evaluate(sensor, result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance):
    """The sensor's function on the run, as the daemon calls it for that run's status event."""
    event = result.get_run_success_event() if result.success else result.get_run_failure_event()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    return sensor(context)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        self.url = ""

    @property
    def texts(self) -> list[str]:
        return [p["json"]["text"] for p in self.posts]


@pytest.fixture
def webhook(monkeypatch) -> Iterator[Webhook]:
    """A Slack-like incoming webhook on 127.0.0.1 that records what it is sent."""
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.posts.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(body),
                }
            )
            answer = b"ok" if hook.status == 200 else b"invalid_payload"
            self.send_response(hook.status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as base_url:
        hook.url = f"{base_url}/services/T000/B000/secret-token"
        monkeypatch.setenv(WEBHOOK_ENV, hook.url)
        monkeypatch.setenv(UI_ENV, UI)
        yield hook


def test_failed_run_posts_one_message(instance, webhook: Webhook) -> None:
    result = _run(instance, crash=True)
    assert not result.success
    assert _evaluate(alert_on_run_failure, result, instance) is None  # posted, go on
    assert len(webhook.posts) == 1
    post = webhook.posts[0]
    assert post["path"] == "/services/T000/B000/secret-token"
    assert post["content_type"] == "application/json"
    assert set(post["json"]) == {"text"}  # what Slack and Teams incoming webhooks accept
    text = post["json"]["text"]
    assert text.splitlines() == [
        "imtetl: run of build_warehouse failed",
        "School: IMTA | Year: 2023",
        "Reason: step staging__enrolment failed: "
        "ValueError: cannot read IMTA/enrolment.csv: no header",
        f"Job: build_warehouse | Run: {UI}/runs/{result.run_id}",
    ]


def test_failed_blocking_check_posts_one_message(instance, webhook: Webhook) -> None:
    result = _run(instance, held_back=True)
    assert result.success  # a school held back is not a failed run...
    assert _evaluate(alert_on_checks, result, instance) is None
    assert len(webhook.texts) == 1  # ...but it is an alert
    text = webhook.texts[0]
    assert text.startswith("imtetl: blocking check failed: staging/enrolment expectation_suite\n")
    assert "School: IMTA | Year: 2023" in text
    # the school's data cannot mention the channel: Slack's control characters are escaped
    assert "Reason: staging/enrolment expectation_suite: IMTA 2023 held back: nationality " in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert f"Run: {UI}/runs/{result.run_id}" in text


def test_missing_delivery_posts_one_message(instance, webhook: Webhook) -> None:
    result = _run(instance, missing=True)
    assert result.success
    assert _evaluate(alert_on_checks, result, instance) is None
    assert webhook.texts == [
        "imtetl: missing delivery\n"
        "School: IMTA | Year: 2023\n"
        "Reason: IMTA sent no enrolment export for 2023, a year its YAML says it delivers "
        "(audit.deliveries)\n"
        f"Job: build_warehouse | Run: {UI}/runs/{result.run_id}"
    ]


def test_a_run_of_several_years_names_the_missing_one(instance, webhook: Webhook) -> None:
    result = _run(instance, tags=range_tags("IMTA|2021", "IMTA|2025"), missing_only="IMTA 2023")
    assert result.success
    assert _evaluate(alert_on_checks, result, instance) is None
    assert webhook.texts[0].splitlines()[1:3] == [
        "School: IMTA | Year: 2023",
        "Reason: IMTA sent no enrolment export for 2023, a year its YAML says it delivers "
        "(audit.deliveries)",
    ]


def test_a_failed_run_reports_its_checks_too(instance, webhook: Webhook) -> None:
    """The checks of a failed run: the failure sensor sends them (the success sensor never
    sees the run), one message each."""
    result = _run(instance, held_back=True, missing=True, crash_after_checks=True)
    assert not result.success
    assert _evaluate(alert_on_run_failure, result, instance) is None
    assert [t.splitlines()[0] for t in webhook.texts] == [
        "imtetl: run of build_warehouse failed",
        "imtetl: blocking check failed: staging/enrolment expectation_suite",
        "imtetl: missing delivery",
    ]


def test_warnings_and_passing_checks_post_nothing(instance, webhook: Webhook) -> None:
    result = _run(instance, fees_off=True)  # a failed WARN check that is no delivery
    assert result.success
    assert _evaluate(alert_on_checks, result, instance) is None
    assert webhook.posts == []


def test_without_the_variable_nothing_is_sent(instance, webhook: Webhook, monkeypatch) -> None:
    monkeypatch.delenv(WEBHOOK_ENV)
    failed = _run(instance, crash=True)
    gated = _run(instance, held_back=True, missing=True)
    skipped = [
        _evaluate(alert_on_run_failure, failed, instance),
        _evaluate(alert_on_checks, gated, instance),
    ]
    assert all(isinstance(s, dg.SkipReason) and s.skip_message == NOT_SET for s in skipped)
    assert webhook.posts == []


@pytest.mark.parametrize("down", ["refused", "http_500"])
def test_a_webhook_that_does_not_answer_is_a_warning(
    instance, webhook: Webhook, monkeypatch, capfd, down: str
) -> None:
    if down == "refused":  # nothing listens on port 9 of 127.0.0.1
        monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/services/T000/B000/secret-token")
    else:
        webhook.status = 500
    result = _run(instance, crash=True, missing=True)
    skipped = _evaluate(alert_on_run_failure, result, instance)
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message.startswith("alert not sent to http://127.0.0.1/…")
    assert ("HTTP 500" if down == "http_500" else "ConnectError") in skipped.skip_message
    # the first failure ends the run's alerts: no waiting for every timeout
    assert len(webhook.posts) == (1 if down == "http_500" else 0)
    logged = capfd.readouterr().err
    assert "alert not sent to http://127.0.0.1/…" in logged and "WARNING" in logged
    assert "secret-token" not in logged + skipped.skip_message  # the URL is the secret


def test_the_sensors_send_each_alert_once(instance, webhook: Webhook) -> None:
    """As the daemon evaluates them: the cursor (the last run status event seen, which the
    instance keeps across restarts) means no run is alerted twice."""
    cursors = {}
    for sensor in (alert_on_run_failure, alert_on_checks):  # the first tick sets the cursor
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        cursors[sensor.name] = first.cursor
    failed = _run(instance, crash=True)
    gated = _run(instance, missing=True)
    _run(instance)  # passes: nothing to say
    for _ in range(2):  # the second round is a restarted daemon with the stored cursors
        for sensor in (alert_on_run_failure, alert_on_checks):
            data = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, cursor=cursors[sensor.name])
            )
            cursors[sensor.name] = data.cursor
    sent = sorted((t.splitlines()[0], t.splitlines()[-1].rsplit("/", 1)[1]) for t in webhook.texts)
    assert sent == sorted(
        [
            ("imtetl: run of build_warehouse failed", failed.run_id),
            ("imtetl: missing delivery", gated.run_id),
        ]
    )


def test_a_run_of_many_partitions_names_them() -> None:
    keys = school_year_partitions.get_partition_keys()
    every = run_scope(range_tags(keys[0], keys[-1]))
    assert every.schools() == f"all {len(school_codes())} schools"
    years = SETTINGS.years
    assert every.years() == f"{years[0]}-{years[-1]}"
    one_school = run_scope(range_tags("IMTA|2021", "IMTA|2025"))
    assert (one_school.schools(), one_school.years()) == ("IMTA", "2021-2025")
    assert run_scope({"dagster/partition": "IMTA|2023"}).pairs == {("IMTA", 2023)}
    whole = run_scope({})  # publish_warehouse, refresh_national: no partition
    assert (whole.schools(), whole.years()) == ("all schools", "all years")


def test_the_sensors_are_in_the_code_location() -> None:
    from imtetl.definitions import defs

    for name in ("alert_on_run_failure", "alert_on_checks"):
        sensor = defs.resolve_sensor_def(name)
        # harmless without the variable (each tick is skipped), so on from the start
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
