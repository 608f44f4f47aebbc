-- bi.recruitment_routes: marts.recruitment_routes with small counts masked.
CREATE OR REPLACE VIEW bi.recruitment_routes AS
SELECT
    school_code, academic_year, admission_route, study_mode,
    CASE WHEN new_entrants BETWEEN 1 AND 10 THEN NULL ELSE new_entrants END AS new_entrants,
    CASE WHEN new_entrants BETWEEN 1 AND 10 THEN NULL ELSE share_of_new_entrants END
        AS share_of_new_entrants,
    coalesce(new_entrants BETWEEN 1 AND 10, false) AS masked
FROM marts.recruitment_routes;

COMMENT ON VIEW bi.recruitment_routes IS 'New entrants by school, year, admission route and study mode, with counts of 1 to 10 masked (see masked). Source: marts.recruitment_routes.';
COMMENT ON COLUMN bi.recruitment_routes.school_code IS 'School code.';
COMMENT ON COLUMN bi.recruitment_routes.academic_year IS 'Academic year by its start year (2024 = 2024-25).';
COMMENT ON COLUMN bi.recruitment_routes.admission_route IS 'Admission route: cpge_exam, admission_on_title, post_bac, international_application, double_degree, exchange, other.';
COMMENT ON COLUMN bi.recruitment_routes.study_mode IS 'Study mode: initial, apprenticeship, continuing_education.';
COMMENT ON COLUMN bi.recruitment_routes.new_entrants IS 'New entrants by that route and mode; NULL when masked.';
COMMENT ON COLUMN bi.recruitment_routes.share_of_new_entrants IS 'Their share of the school''s new entrants that year (0-1); NULL when masked.';
COMMENT ON COLUMN bi.recruitment_routes.masked IS 'True when new_entrants is between 1 and 10 (count and share are then NULL).';
