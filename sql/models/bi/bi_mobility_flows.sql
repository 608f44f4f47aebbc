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
    -- total_months / stays rounded half away from zero to 1 decimal, in integer arithmetic
    CASE WHEN masked THEN NULL ELSE
        {{ round_half_away('CAST(total_months * 10 AS BIGINT)', '10 * stays', 1, 5) }}
    END AS avg_duration_months,
    masked
FROM flagged
