-- marts.international_masters_pricing: fees and enrolment of IMT master's-level programmes.
-- Grain: one row per school, programme and academic year (programme_id, academic_year) for
-- programmes whose level (core.dim_programme) is msc, mastere_specialise or national_master,
-- in every year where the programme has a fee row or at least one enrolled student.
-- Rules:
--   * fee_non_eu_change_pct compares with the programme's previous row in this mart (LAG over
--     its academic years in order), NULL for its first year or when either fee is NULL (or
--     the previous one zero): 100 * change / previous fee from the fees in cents, the exact
--     quotient (DOUBLE, not rounded: bi.international_masters_pricing rounds it half away
--     from zero to 2 decimals in integer arithmetic, from prev_fee_non_eu_eur).
--   * non_eu_fee_rank: RANK() within (programme_level, academic_year) by non-EU fee,
--     highest = 1, ties share a rank; NULL when the programme has no non-EU fee.
--   * expected_fee_revenue_eur: each enrolled student contributes the fee of their own
--     fee_category for that programme and year; a student whose category has no fee row
--     contributes nothing (0), so the figure is a lower bound when the grid is incomplete.
WITH masters AS (
    SELECT programme_id, school_code, programme_name, programme_level
    FROM {{ ref('dim_programme') }}
    WHERE programme_level IN ('msc', 'mastere_specialise', 'national_master')
),
fees AS (
    SELECT
        programme_id,
        academic_year,
        max(annual_fee_eur) FILTER (WHERE fee_category = 'eu') AS fee_eu_eur,
        max(annual_fee_eur) FILTER (WHERE fee_category = 'non_eu') AS fee_non_eu_eur
    FROM {{ ref('fact_tuition_fee') }}
    GROUP BY programme_id, academic_year
),
enrolment AS (
    SELECT
        e.programme_id,
        e.academic_year,
        count(*) AS enrolled,
        count(*) FILTER (WHERE e.fee_category = 'non_eu') AS enrolled_non_eu,
        count(*) FILTER (WHERE e.fee_category = 'non_eu' AND e.is_new_entrant)
            AS new_entrants_non_eu,
        sum(f.annual_fee_eur) AS expected_fee_revenue_eur
    FROM {{ ref('fact_enrolment') }} AS e
    LEFT JOIN {{ ref('fact_tuition_fee') }} AS f
        ON f.programme_id = e.programme_id
        AND f.academic_year = e.academic_year
        AND f.fee_category = e.fee_category
    GROUP BY e.programme_id, e.academic_year
),
programme_years AS (
    SELECT programme_id, academic_year FROM fees
    UNION
    SELECT programme_id, academic_year FROM enrolment
),
base AS (
    SELECT
        m.school_code,
        py.programme_id,
        m.programme_name,
        py.academic_year,
        f.fee_eu_eur,
        f.fee_non_eu_eur,
        lag(f.fee_non_eu_eur) OVER (
            PARTITION BY py.programme_id ORDER BY py.academic_year
        ) AS prev_fee_non_eu_eur,
        coalesce(e.enrolled, 0) AS enrolled,
        coalesce(e.enrolled_non_eu, 0) AS enrolled_non_eu,
        coalesce(e.new_entrants_non_eu, 0) AS new_entrants_non_eu,
        coalesce(e.expected_fee_revenue_eur, 0) AS expected_fee_revenue_eur,
        m.programme_level
    FROM programme_years AS py
    JOIN masters AS m ON m.programme_id = py.programme_id
    LEFT JOIN fees AS f
        ON f.programme_id = py.programme_id AND f.academic_year = py.academic_year
    LEFT JOIN enrolment AS e
        ON e.programme_id = py.programme_id AND e.academic_year = py.academic_year
),
in_cents AS (
    SELECT
        *,
        CAST((fee_non_eu_eur - prev_fee_non_eu_eur) * 100 AS BIGINT) AS change_cents,
        CAST(prev_fee_non_eu_eur * 100 AS BIGINT) AS prev_cents
    FROM base
)
SELECT
    school_code,
    programme_id,
    programme_name,
    academic_year,
    CAST(fee_eu_eur AS DECIMAL(10, 2)) AS fee_eu_eur,
    CAST(fee_non_eu_eur AS DECIMAL(10, 2)) AS fee_non_eu_eur,
    CAST(fee_non_eu_eur - fee_eu_eur AS DECIMAL(10, 2)) AS non_eu_premium_eur,
    CASE
        WHEN prev_cents > 0 AND change_cents IS NOT NULL THEN
            CAST(change_cents AS DOUBLE) * 100 / prev_cents
    END AS fee_non_eu_change_pct,
    CASE
        WHEN fee_non_eu_eur IS NOT NULL THEN
            rank() OVER (
                PARTITION BY programme_level, academic_year
                ORDER BY fee_non_eu_eur DESC NULLS LAST
            )
    END AS non_eu_fee_rank,
    CAST(enrolled AS BIGINT) AS enrolled,
    CAST(enrolled_non_eu AS BIGINT) AS enrolled_non_eu,
    CAST(new_entrants_non_eu AS BIGINT) AS new_entrants_non_eu,
    CAST(expected_fee_revenue_eur AS DECIMAL(14, 2)) AS expected_fee_revenue_eur,
    programme_level,
    CAST(prev_fee_non_eu_eur AS DECIMAL(10, 2)) AS prev_fee_non_eu_eur
FROM in_cents
ORDER BY school_code, programme_id, academic_year
