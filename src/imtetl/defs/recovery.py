"""Runs abandoned by a killed ``imtetl build``.

The CLI executes its runs in its own process. Killed (SIGKILL, out of memory, a reboot), it
leaves its run STARTED for ever in the instance, and a run that looks in progress holds the
``warehouse`` pool: with run granularity and a limit of 1 (dagster.yaml) the run queue would
keep every later run of the pool waiting. So each CLI run carries the identity of its
process (host, boot, pid, process start time), and the next ``imtetl build`` marks the runs
whose process is gone as failed and frees their concurrency slots. Runs launched by the
daemon are not the CLI's to judge: the instance's run monitoring fails those that outlive
``max_runtime_seconds`` (dagster.yaml)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

PROCESS_TAG = "imtetl/process"
#: CLI runs are not retried by the daemon: whoever ran the command sees the failure.
NO_RETRY_TAGS = {"dagster/max_retries": "0"}


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), None when there is no such
    process; "-" where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "-"
    fields = stat.rsplit(")", 1)[1].split()  # after the command name: field 3 onwards
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie has ended


def process_identity(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}|{_boot_id()}|{pid}|{_start_time(pid) or '-'}"


def process_tags() -> dict[str, str]:
    """Tags of a run executed in this process."""
    return {PROCESS_TAG: process_identity(), **NO_RETRY_TAGS}


def process_is_gone(identity: str) -> bool | None:
    """True when the process of ``identity`` has ended, None when this host cannot tell."""
    try:
        host, boot, pid_text, started = identity.split("|")
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if boot != "-" and boot != _boot_id():
        return True  # the machine restarted since
    now = _start_time(pid)
    if now is None:
        return True
    if now == "-" or started == "-":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return now != started  # the pid now belongs to another process


def fail_abandoned_runs(instance) -> list[str]:
    """Mark as failed the runs of this instance whose ``imtetl build`` process is gone;
    return their run ids."""
    from dagster import DagsterRunStatus, RunsFilter

    active = [
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    failed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=active)):
        run = record.dagster_run
        identity = run.tags.get(PROCESS_TAG)
        if not identity or not process_is_gone(identity):
            continue
        pid = identity.split("|")[2]
        instance.report_run_failed(
            run,
            message=f"The imtetl build process that ran this run (pid {pid}) ended without "
            "finishing it (killed): marked failed by the next imtetl build.",
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed
