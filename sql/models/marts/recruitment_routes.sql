-- marts.recruitment_routes: how new entrants are recruited.
-- Grain: one row per school_code, academic_year, admission_route and study_mode among new
-- entrants (core.fact_enrolment.is_new_entrant), all programme levels together.
WITH by_route AS (
    SELECT
        school_code,
        academic_year,
        admission_route,
        study_mode,
        count(*) AS new_entrants
    FROM {{ ref('fact_enrolment') }}
    WHERE is_new_entrant
    GROUP BY school_code, academic_year, admission_route, study_mode
)
SELECT
    school_code,
    academic_year,
    admission_route,
    study_mode,
    CAST(new_entrants AS BIGINT) AS new_entrants,
    -- exact fraction (DOUBLE), not rounded: bi.recruitment_routes rounds it for presentation
    CAST(new_entrants AS DOUBLE)
        / sum(new_entrants) OVER (PARTITION BY school_code, academic_year)
        AS share_of_new_entrants
FROM by_route
ORDER BY school_code, academic_year, admission_route, study_mode
