-- marts.staff_mobility: the mobility stays of teaching and research staff (core.fact_mobility
-- rows of population 'staff': Erasmus+ teaching and training stays, T.I.M.E. visits, invited
-- professorships), aggregated as marts.mobility_flows aggregates the students'.
-- Grain: one row per school_code, academic_year, direction, scheme and partner_country.
-- avg_duration_months = total_months / stays, the exact quotient (DOUBLE, not rounded).
WITH stays AS (
    SELECT
        school_code,
        academic_year,
        direction,
        scheme,
        partner_country,
        count(*) AS stays,
        count(DISTINCT student_key) AS staff,
        sum(duration_months) AS total_months
    FROM {{ ref('fact_mobility') }}
    WHERE population = 'staff'
    GROUP BY school_code, academic_year, direction, scheme, partner_country
)
SELECT
    school_code,
    academic_year,
    direction,
    scheme,
    partner_country,
    CAST(stays AS BIGINT) AS stays,
    CAST(staff AS BIGINT) AS staff,
    CAST(total_months AS DECIMAL(12, 1)) AS total_months,
    CAST(total_months AS DOUBLE) / stays AS avg_duration_months
FROM stays
ORDER BY school_code, academic_year, direction, scheme, partner_country
