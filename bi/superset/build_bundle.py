"""Build the Superset dashboard bundle of the IMT warehouse (run with Superset installed:
`pip install '.[superset]'`). Creates, in a throw-away Superset metadata database, the
warehouse connection (read-only), one dataset per bi view, the charts and the dashboard,
then exports them with Superset's own export command to bi/superset/imt_dashboard/."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from scratch_superset import scratch_superset

HERE = Path(__file__).resolve().parent
WAREHOUSE_URI = "duckdb:////path/to/warehouse/imt.duckdb?access_mode=read_only"


def _sum(expression: str, label: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": f"SUM({expression})", "label": label}


def _where(sql: str) -> list[dict]:
    return [{"expressionType": "SQL", "sqlExpression": sql, "clause": "WHERE"}]


def _stacked_bar(x: str, metric: dict, by: str, where: str) -> dict:
    return {
        "x_axis": x, "metrics": [metric], "groupby": [by], "adhoc_filters": _where(where),
        "stack": "Stack", "row_limit": 10000,
    }  # fmt: skip


#: (chart name, bi view, Superset viz type, form data)
CHARTS = [
    (
        "Foreign new entrants by region",
        "foreign_intake_by_region",
        "echarts_timeseries_bar",
        _stacked_bar(
            "academic_year", _sum("new_entrants", "new entrants"), "world_region",
            "NOT masked AND NOT is_french",
        ),
    ),
    (
        "International master's: non-EU fees",
        "international_masters_pricing",
        "table",
        {
            "query_mode": "raw",
            "all_columns": [
                "school_code", "programme_name", "academic_year", "fee_eu_eur",
                "fee_non_eu_eur", "non_eu_fee_rank", "enrolled_non_eu", "masked",
            ],
            "adhoc_filters": _where("programme_level = 'msc'"),
            "order_by_cols": ['["fee_non_eu_eur", false]'],
            "row_limit": 1000,
        },
    ),
    (
        "New entrants by admission route",
        "recruitment_routes",
        "echarts_timeseries_bar",
        _stacked_bar(
            "school_code", _sum("new_entrants", "new entrants"), "admission_route", "NOT masked"
        ),
    ),
    (
        "Mobility stays by scheme",
        "mobility_by_scheme",
        "echarts_timeseries_bar",
        _stacked_bar("academic_year", _sum("stays", "stays"), "scheme", "NOT masked"),
    ),
    (
        "Foreign share of faculty",
        "international_faculty",
        "echarts_timeseries_line",
        {
            "x_axis": "academic_year",
            "metrics": [{
                "expressionType": "SQL",
                "sqlExpression": "SUM(foreign_headcount) * 1.0 / SUM(headcount)",
                "label": "foreign share",
            }],
            "groupby": ["school_code"], "adhoc_filters": _where("NOT masked"),
            "y_axis_format": ".1%", "row_limit": 10000,
        },
    ),
    (
        "Staff mobility stays by scheme",
        "staff_mobility_by_scheme",
        "echarts_timeseries_bar",
        _stacked_bar("academic_year", _sum("stays", "stays"), "scheme", "NOT masked"),
    ),
]  # fmt: skip


def main(warehouse: str) -> None:
    with scratch_superset(Path(tempfile.mkdtemp())):
        from superset import db
        from superset.commands.dashboard.export import ExportDashboardsCommand
        from superset.connectors.sqla.models import SqlaTable
        from superset.models.core import Database
        from superset.models.dashboard import Dashboard
        from superset.models.slice import Slice

        database = Database(
            database_name="IMT warehouse",
            sqlalchemy_uri=f"duckdb:///{warehouse}?access_mode=read_only",
            expose_in_sqllab=True,
        )
        db.session.add(database)
        db.session.commit()
        slices = []
        datasets = {}
        for name, view, viz, params in CHARTS:
            if view not in datasets:
                table = SqlaTable(table_name=view, schema="bi", database=database)
                db.session.add(table)
                db.session.commit()
                table.fetch_metadata()
                datasets[view] = table
            table = datasets[view]
            form = {"viz_type": viz, "datasource": f"{table.id}__table", **params}
            chart = Slice(
                slice_name=name, viz_type=viz, datasource_type="table",
                datasource_id=table.id, params=json.dumps(form),
            )  # fmt: skip
            db.session.add(chart)
            slices.append(chart)
        db.session.commit()
        dashboard = Dashboard(
            dashboard_title="IMT international recruitment", slug="imt-international",
            slices=slices, published=True,
        )  # fmt: skip
        db.session.add(dashboard)
        db.session.commit()
        database.sqlalchemy_uri = WAREHOUSE_URI  # the bundle names no machine's path
        db.session.commit()
        out = HERE / "imt_dashboard"
        for file_name, content in ExportDashboardsCommand([dashboard.id]).run():
            path = out / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content(), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1])
