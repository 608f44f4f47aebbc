-- bi.mobility_flows: marts.mobility_flows with small counts masked (months reveal stays).
{{ config(alias='mobility_flows') }}

WITH flagged AS (
    SELECT *, coalesce(stays BETWEEN 1 AND 10 OR students BETWEEN 1 AND 10, false) AS masked
    FROM {{ ref('mobility_flows') }}
)
SELECT
    school_code, academic_year, direction, scheme, partner_country,
    CASE WHEN masked THEN NULL ELSE stays END AS stays,
    CASE WHEN masked THEN NULL ELSE students END AS students,
    CASE WHEN masked THEN NULL ELSE total_months END AS total_months,
    CASE WHEN masked THEN NULL ELSE avg_duration_months END AS avg_duration_months,
    masked
FROM flagged
