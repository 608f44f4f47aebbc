-- bi.staff_mobility_by_scheme: staff stays by school, year, direction and scheme, aggregated
-- over partner countries from marts.staff_mobility BEFORE masking (staff stays are few);
-- then counts of 1 to 10 are masked (months reveal the stays).
{{ config(alias='staff_mobility_by_scheme') }}

WITH schemes AS (
    SELECT school_code, academic_year, direction, scheme, sum(stays) AS stays,
           sum(total_months) AS total_months
    FROM {{ ref('staff_mobility') }}
    GROUP BY ALL
), flagged AS (
    SELECT *, coalesce(stays BETWEEN 1 AND 10, false) AS masked FROM schemes
)
SELECT
    school_code, academic_year, direction, scheme,
    CASE WHEN masked THEN NULL ELSE stays END::BIGINT AS stays,
    CASE WHEN masked THEN NULL ELSE total_months END AS total_months,
    masked
FROM flagged
