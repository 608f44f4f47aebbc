-- marts.recruitment_routes: how new entrants are recruited.
-- Grain: one row per school_code, academic_year, admission_route and study_mode among new
-- entrants (core.fact_enrolment.is_new_entrant), all programme levels together.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE marts.recruitment_routes AS
WITH by_route AS (
    SELECT
        school_code,
        academic_year,
        admission_route,
        study_mode,
        count(*) AS new_entrants
    FROM core.fact_enrolment
    WHERE is_new_entrant
    GROUP BY school_code, academic_year, admission_route, study_mode
)
SELECT
    school_code,
    academic_year,
    admission_route,
    study_mode,
    CAST(new_entrants AS BIGINT) AS new_entrants,
    round(
        CAST(new_entrants AS DOUBLE)
        / sum(new_entrants) OVER (PARTITION BY school_code, academic_year),
        4
    ) AS share_of_new_entrants
FROM by_route
ORDER BY school_code, academic_year, admission_route, study_mode;

COMMENT ON TABLE marts.recruitment_routes IS 'Recruitment routes: new entrants (students starting a programme that year, all levels) by school, academic year, admission route and study mode, with their share of the school''s intake.';
COMMENT ON COLUMN marts.recruitment_routes.school_code IS 'School admitting the students (see core.dim_school).';
COMMENT ON COLUMN marts.recruitment_routes.academic_year IS 'Academic year of entry as its starting calendar year (2024 = 2024-25).';
COMMENT ON COLUMN marts.recruitment_routes.admission_route IS 'Admission route: cpge_exam (competitive exam after classes préparatoires), admission_on_title (on the basis of a prior degree), post_bac, international_application, double_degree, exchange or other.';
COMMENT ON COLUMN marts.recruitment_routes.study_mode IS 'Mode of study: initial (full-time student), apprenticeship (work-study contract) or continuing_education.';
COMMENT ON COLUMN marts.recruitment_routes.new_entrants IS 'Number of new entrants of the school that year admitted through this route in this study mode.';
COMMENT ON COLUMN marts.recruitment_routes.share_of_new_entrants IS 'new_entrants divided by all new entrants of the school that academic year (all routes, modes and levels), as a fraction between 0 and 1 rounded to 4 decimals (DOUBLE).';
