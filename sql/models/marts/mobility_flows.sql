-- marts.mobility_flows: mobility stays aggregated.
-- Grain: one row per school_code, academic_year, direction, scheme and partner_country.
-- avg_duration_months = total_months / stays, rounded half away from zero to 1 decimal in
-- exact integer arithmetic (on the per-stay durations of core.fact_mobility).
WITH flows AS (
    SELECT
        school_code,
        academic_year,
        direction,
        scheme,
        partner_country,
        count(*) AS stays,
        count(DISTINCT student_key) AS students,
        sum(duration_months) AS total_months,
        CAST(sum(duration_months) * 10 AS BIGINT) AS total_tenths
    FROM {{ ref('fact_mobility') }}
    GROUP BY school_code, academic_year, direction, scheme, partner_country
)
SELECT
    school_code,
    academic_year,
    direction,
    scheme,
    partner_country,
    CAST(stays AS BIGINT) AS stays,
    CAST(students AS BIGINT) AS students,
    CAST(total_months AS DECIMAL(12, 1)) AS total_months,
    CAST(
        CAST(sign(total_tenths) * ((2 * abs(total_tenths) + stays) // (2 * stays))
             AS DECIMAL(18, 0)) * 0.1
        AS DECIMAL(5, 1)
    ) AS avg_duration_months
FROM flows
ORDER BY school_code, academic_year, direction, scheme, partner_country
