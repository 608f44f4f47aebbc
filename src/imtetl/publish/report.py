"""A static HTML report people can look at, rendered offline after each build.

Altair charts over the ``bi`` views only (counts of 1 to 10 are masked there, and masked rows
are left out of the charts), with Vega's JavaScript inlined into the page (vl-convert ships
it), so the file opens anywhere, offline, with no server.
"""

from __future__ import annotations

import contextlib
import html
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl


def _frames(warehouse: Path | duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    with _reading(warehouse) as conn:

        def q(sql: str) -> pl.DataFrame:
            return conn.execute(sql).pl()

        return {
            "intake": q(
                """SELECT school_code, academic_year::VARCHAR AS academic_year, world_region,
                          new_entrants
                   FROM bi.foreign_intake_by_region
                   WHERE NOT masked AND NOT is_french
                   ORDER BY ALL"""
            ),
            "fees": q(
                """SELECT p.school_code, p.programme_name, p.academic_year,
                          p.fee_non_eu_eur::DOUBLE AS fee_non_eu_eur,
                          r.annual_fee_eur::DOUBLE AS regulated_non_eu_eur
                   FROM bi.international_masters_pricing p
                   LEFT JOIN core.regulated_tuition r
                     ON r.school_code = p.school_code AND r.programme_level = p.programme_level
                    AND r.fee_category = 'non_eu'
                    AND p.academic_year BETWEEN r.first_academic_year AND r.last_academic_year
                   WHERE p.programme_level = 'msc' AND p.fee_non_eu_eur IS NOT NULL
                     AND p.academic_year = (SELECT max(academic_year)
                                            FROM bi.international_masters_pricing)
                   ORDER BY p.fee_non_eu_eur DESC, p.programme_name"""
            ),
            "routes": q(
                """SELECT school_code, admission_route, sum(new_entrants)::BIGINT AS new_entrants
                   FROM bi.recruitment_routes
                   WHERE NOT masked
                     AND academic_year = (SELECT max(academic_year) FROM bi.recruitment_routes)
                   GROUP BY ALL ORDER BY ALL"""
            ),
            "apprentices": q(
                """SELECT school_code, academic_year::VARCHAR AS academic_year,
                          sum(new_entrants) FILTER (study_mode = 'apprenticeship')
                              / sum(new_entrants)::DOUBLE AS apprenticeship_share
                   FROM bi.recruitment_routes WHERE NOT masked
                   GROUP BY ALL HAVING sum(new_entrants) > 0 ORDER BY ALL"""
            ),
            "mobility": q(
                """SELECT school_code, direction, scheme, sum(stays)::BIGINT AS stays
                   FROM bi.mobility_by_scheme WHERE NOT masked
                   GROUP BY ALL ORDER BY ALL"""
            ),
            "faculty": q(
                """SELECT school_code, academic_year::VARCHAR AS academic_year,
                          foreign_share::DOUBLE AS foreign_share, headcount, foreign_headcount
                   FROM bi.international_faculty WHERE NOT masked
                   ORDER BY ALL"""
            ),
            "staff_mobility": q(
                """SELECT academic_year, direction, scheme, stays
                   FROM bi.staff_mobility_by_scheme WHERE NOT masked
                   GROUP BY ALL ORDER BY ALL"""
            ),
        }


def _share_by_school(frame: pl.DataFrame, title: str, share: str, counts: list[str] = ()):
    """A share (0 to 1) by school over the academic years, as a line per school."""
    import altair as alt

    return (
        alt.Chart(frame, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("academic_year:O", title="academic year"),
            y=alt.Y(f"{share}:Q", axis=alt.Axis(format="%"), title=None),
            color=alt.Color("school_code:N", title="school"),
            tooltip=[
                "school_code",
                "academic_year",
                *counts,
                alt.Tooltip(f"{share}:Q", format=".2%"),
            ],
        )
        .properties(width=360, height=240)
    )


def _stays_by_scheme(frame: pl.DataFrame, title: str, x: str, width: int):
    """Mobility stays stacked by scheme along ``x``, one panel per direction."""
    import altair as alt

    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            x=alt.X(x, title=None),
            y=alt.Y("stays:Q", title="stays"),
            color=alt.Color("scheme:N", title="scheme"),
            column=alt.Column("direction:N", title=None),
            tooltip=[x.split(":")[0], "direction", "scheme", "stays"],
        )
        .properties(width=width, height=240)
    )


def _charts(frames: dict[str, pl.DataFrame]):
    import altair as alt

    intake = (
        alt.Chart(frames["intake"], title="Foreign new entrants by school and world region")
        .mark_bar()
        .encode(
            x=alt.X("academic_year:O", title="academic year"),
            y=alt.Y("sum(new_entrants):Q", title="new entrants (foreign nationals)"),
            color=alt.Color("world_region:N", title="region"),
            column=alt.Column("school_code:N", title=None),
            tooltip=["school_code", "academic_year", "world_region", "new_entrants"],
        )
        .properties(width=90, height=220)
    )
    fees = frames["fees"]
    bars = (
        alt.Chart(fees)
        .mark_bar()
        .encode(
            y=alt.Y("programme_name:N", sort="-x", title=None),
            x=alt.X("fee_non_eu_eur:Q", title="non-EU fee (€ a year)"),
            color=alt.Color("school_code:N", title="school"),
            tooltip=["school_code", "programme_name", "fee_non_eu_eur", "regulated_non_eu_eur"],
        )
    )
    regulated = (
        alt.Chart(fees.filter(pl.col("regulated_non_eu_eur").is_not_null()).head(1))
        .mark_rule(color="black", strokeDash=[4, 3])
        .encode(x="regulated_non_eu_eur:Q")
    )
    year = int(fees["academic_year"].max()) if fees.height else None
    pricing = (bars + regulated).properties(
        width=520,
        height=max(120, 16 * fees.height),
        title=f"International master's: non-EU fee of each programme, {year}-{(year or 0) + 1}"
        " (dashed: the regulated fee)",
    )
    routes = (
        alt.Chart(frames["routes"], title="New entrants by admission route (latest year)")
        .mark_bar()
        .encode(
            x=alt.X("school_code:N", title=None),
            y=alt.Y("new_entrants:Q", stack="normalize", title="share of new entrants"),
            color=alt.Color("admission_route:N", title="route"),
            tooltip=["school_code", "admission_route", "new_entrants"],
        )
        .properties(width=360, height=240)
    )
    # the share is computed here from bi counts: shown rounded (4 decimals of the fraction),
    # as every share dashboards show
    apprentices = _share_by_school(
        frames["apprentices"], "Share of apprentices among new entrants", "apprenticeship_share"
    )
    mobility = _stays_by_scheme(
        frames["mobility"], "Mobility stays by scheme, 2021-2025", "school_code:N", 300
    )
    faculty = _share_by_school(
        frames["faculty"],
        "Foreign share of the teaching and research staff",
        "foreign_share",
        ["headcount", "foreign_headcount"],
    )
    staff_mobility = _stays_by_scheme(
        frames["staff_mobility"], "IMT staff mobility stays by scheme", "academic_year:O", 180
    )
    return [
        intake,
        pricing,
        alt.hconcat(routes, apprentices).resolve_scale(color="independent"),
        mobility,
        alt.hconcat(faculty, staff_mobility).resolve_scale(color="independent"),
    ]


def _reading(warehouse: Path | duckdb.DuckDBPyConnection):
    """A read-only connection to a warehouse file, or the open connection given (left open)."""
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        return contextlib.nullcontext(warehouse)
    return duckdb.connect(str(warehouse), read_only=True)


def render_report(warehouse: Path | duckdb.DuckDBPyConnection, out: Path) -> Path:
    """Write ``out`` (a self-contained HTML page) from the published warehouse's bi views
    (a file, or an open connection to the published state: imtetl.publish.published)."""
    import altair as alt

    charts = _charts(_frames(warehouse))
    page = (
        alt.vconcat(*charts, spacing=40)
        .resolve_scale(color="independent")
        .properties(
            title=alt.TitleParams(
                "IMT international recruitment",
                subtitle=f"Published warehouse of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
                "Counts of 1 to 10 people are masked and left out.",
                anchor="start",
                fontSize=20,
            )
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.html")
    text = _inline_html(page.to_dict(), "IMT international recruitment")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def _vega_bundle() -> tuple[str, str]:
    """vl-convert's vega-embed bundle (with Vega-Lite) and its Vega-Lite version.

    vl-convert builds the bundle in seconds each process: it is kept in the cache folder,
    keyed by the vl-convert and Vega-Lite versions, so a build pays it once per machine."""
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    from imtetl.cache import cache_dir, write_atomically

    version = vl_version_for_vl_convert()
    path = cache_dir() / f"vega-embed-vlc{vlc.__version__}-vl{version}.js"
    try:
        return path.read_text(encoding="utf-8"), version
    except OSError:
        pass
    bundle = vlc.javascript_bundle(vl_version=version)
    write_atomically(path, bundle)
    return bundle, version


def _inline_html(spec: dict, title: str) -> str:
    """The page as Altair's own inline template renders it, with the cached bundle."""
    from altair.utils.html import INLINE_HTML_TEMPLATE

    bundle, version = _vega_bundle()
    text = INLINE_HTML_TEMPLATE.render(
        spec=json.dumps(spec),
        embed_options=json.dumps({"mode": "vega-lite"}),
        vegalite_version=version,
        output_div="vis",
        vegaembed_script=bundle,
    )
    return text.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)
