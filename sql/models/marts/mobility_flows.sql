-- marts.mobility_flows: students' mobility stays aggregated (population 'student' only:
-- staff stays are marts.staff_mobility).
-- Grain: one row per school_code, academic_year, direction, scheme and partner_country.
-- avg_duration_months = total_months / stays, the exact quotient (DOUBLE, not rounded: the
-- marts hold exact values; bi.mobility_flows rounds it half away from zero to 1 decimal).
WITH flows AS (
    SELECT
        school_code,
        academic_year,
        direction,
        scheme,
        partner_country,
        count(*) AS stays,
        count(DISTINCT student_key) AS students,
        sum(duration_months) AS total_months
    FROM {{ ref('fact_mobility') }}
    WHERE population = 'student'
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
    CAST(total_months AS DOUBLE) / stays AS avg_duration_months
FROM flows
ORDER BY school_code, academic_year, direction, scheme, partner_country
