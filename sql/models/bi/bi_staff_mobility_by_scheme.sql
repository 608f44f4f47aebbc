-- bi.staff_mobility_by_scheme: IMT's staff stays by year, direction and scheme, aggregated over
-- schools and partner countries from marts.staff_mobility BEFORE masking: staff stays are few
-- (a school sends a handful of each scheme a year), so by school nearly every row would be
-- masked. Then counts of 1 to 10 are masked (months reveal the stays).
{{ config(alias='staff_mobility_by_scheme') }}

WITH schemes AS (
    SELECT academic_year, direction, scheme, sum(stays) AS stays,
           sum(total_months) AS total_months
    FROM {{ ref('staff_mobility') }}
    GROUP BY ALL
), flagged AS (
    SELECT *, coalesce(stays BETWEEN 1 AND 10, false) AS masked FROM schemes
)
SELECT
    academic_year, direction, scheme,
    CASE WHEN masked THEN NULL ELSE stays END::BIGINT AS stays,
    CASE WHEN masked THEN NULL ELSE total_months END AS total_months,
    masked
FROM flagged
