"""Import the dashboard bundle into a fresh Superset metadata database, point it at a
warehouse (read-only) and run every chart's query through Superset. Run with Superset
installed (`pip install '.[superset]'`): `python bi/superset/verify.py WAREHOUSE WORKDIR`.
Prints one line per chart and `all N charts ran`; exits non-zero on any failure."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import yaml
from scratch_superset import scratch_superset

HERE = Path(__file__).resolve().parent


BUNDLE = HERE / "imt_dashboard"


def bundle_contents(warehouse: Path) -> dict[str, str]:
    """The bundle's files (as a Superset export ZIP holds them), the connection pointed at
    ``warehouse``, read-only."""
    contents = {}
    for path in sorted(BUNDLE.rglob("*.yaml")):
        relative = str(path.relative_to(BUNDLE))
        text = path.read_text(encoding="utf-8")
        if relative.startswith("databases/"):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = f"duckdb:///{warehouse}?access_mode=read_only"
            text = yaml.safe_dump(config)
        contents[relative] = text
    return contents


def write_zip(warehouse: Path, out: Path) -> Path:
    """An importable ZIP for Superset's UI (Dashboards → Import), pointed at ``warehouse``."""
    with zipfile.ZipFile(out, "w") as bundle:
        for relative, text in bundle_contents(warehouse).items():
            bundle.writestr(f"imt_dashboard/{relative}", text)
    return out


def query_object(form: dict) -> dict:
    """The query a chart's form data asks for, as Superset's datasource takes it."""
    where = " AND ".join(
        f"({f['sqlExpression']})"
        for f in form.get("adhoc_filters", [])
        if f.get("expressionType") == "SQL" and f.get("clause") == "WHERE"
    )
    if form.get("query_mode") == "raw":
        columns, metrics = form["all_columns"], []
    else:
        columns, metrics = [form["x_axis"], *form.get("groupby", [])], form["metrics"]
    return {
        "columns": columns,
        "groupby": columns if metrics else [],
        "metrics": metrics,
        "filter": [],
        "extras": {"where": where} if where else {},
        "is_timeseries": False,
        "row_limit": form.get("row_limit", 1000),
    }


def main(warehouse: Path, workdir: Path) -> int:
    with scratch_superset(workdir):
        from superset import db
        from superset.commands.dashboard.importers.dispatcher import ImportDashboardsCommand
        from superset.models.dashboard import Dashboard

        ImportDashboardsCommand(bundle_contents(warehouse), overwrite=True).run()
        (dashboard,) = db.session.query(Dashboard).all()
        print(f"imported dashboard {dashboard.dashboard_title!r}: {len(dashboard.slices)} charts")
        failures = 0
        for chart in dashboard.slices:
            form = json.loads(chart.params)
            result = chart.datasource.query(query_object(form))
            ok = result.status == "success" and result.df is not None and len(result.df) > 0
            failures += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {chart.slice_name}: {result.status}, "
                f"{0 if result.df is None else len(result.df)} rows"
                + (f" {result.error_message}" if result.error_message else "")
            )
        if failures:
            return 1
        print(f"all {len(dashboard.slices)} charts ran")
        return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
