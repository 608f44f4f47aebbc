"""A console logger for people: one line per finished step and the assets' own messages,
instead of Dagster's full event stream (which the UI keeps anyway)."""

import logging
import sys

import dagster as dg

_SHOWN_EVENTS = {"STEP_SUCCESS", "STEP_FAILURE", "ASSET_CHECK_EVALUATION"}


class _ProgressFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            return record.levelno >= logging.INFO
        return event.event_type_value in _SHOWN_EVENTS or record.levelno >= logging.ERROR


class _ProgressFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key") or ""
        event = meta.get("dagster_event")
        message = meta.get("orig_message") or record.getMessage()
        if event is not None and event.event_type_value == "STEP_SUCCESS":
            return f"  ✓ {step.replace('__', '/')}"
        if event is not None and event.event_type_value == "STEP_FAILURE":
            return f"  ✗ {step.replace('__', '/')}: {message}"
        if event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            severity = getattr(getattr(data, "severity", None), "value", "ERROR")
            verdict = "passed" if data.passed else "warning" if severity == "WARN" else "FAILED"
            return f"    check {data.check_name} on {data.asset_key.to_user_string()}: {verdict}"
        return f"    {message}"


@dg.logger(
    {"log_level": dg.Field(str, is_required=False, default_value="DEBUG")},
    description="Concise progress on stderr.",
)
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("imtetl.progress")
    logger.setLevel(init_context.logger_config["log_level"])
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_ProgressFilter())
        handler.setFormatter(_ProgressFormatter())
        logger.addHandler(handler)
    return logger


@dg.definitions
def loggers() -> dg.Definitions:
    """The console logger, for `dg.load_from_defs_folder` (imtetl.definitions)."""
    return dg.Definitions(loggers={"console": progress_logger})
