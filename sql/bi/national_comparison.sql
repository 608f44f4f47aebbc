-- bi.national_comparison: marts.national_comparison for dashboards.
-- A row with any count of 1 to 10 people — students, international mobility students,
-- engineering students, or one implied by subtracting two of them — has its counts, shares
-- and rank masked, as in every bi view. That holds for the national rows too, although the
-- ministry publishes them (open data): the bi schema's rule has no exception, and the
-- mart keeps every figure for analysts.
CREATE OR REPLACE VIEW bi.national_comparison AS
WITH flagged AS (
    SELECT *,
        coalesce(
            students BETWEEN 1 AND 10
            OR international_mobility_students BETWEEN 1 AND 10
            OR engineering_students BETWEEN 1 AND 10
            OR students - international_mobility_students BETWEEN 1 AND 10
            OR students - engineering_students BETWEEN 1 AND 10, false) AS masked
    FROM marts.national_comparison
)
SELECT
    academic_year, is_imt, school_code, uai, paysage_id, name, establishment_type,
    CASE WHEN masked THEN NULL ELSE students END AS students,
    CASE WHEN masked THEN NULL ELSE international_mobility_students END
        AS international_mobility_students,
    CASE WHEN masked THEN NULL ELSE international_mobility_share END
        AS international_mobility_share,
    CASE WHEN masked THEN NULL ELSE engineering_students END AS engineering_students,
    CASE WHEN masked THEN NULL ELSE engineering_share END AS engineering_share,
    CASE WHEN masked THEN NULL ELSE mobility_share_rank END AS mobility_share_rank,
    ranked_in_year, national_schools_in_year, counted_in_parent, is_epe_component, source,
    masked
FROM flagged;

COMMENT ON VIEW bi.national_comparison IS 'International mobility share of the IMT schools beside France''s comparable engineering schools (the ministry''s open enrolment statistics), one row per school and academic year, ranked per year. Rows with a count of 1 to 10 people are masked (see masked), national rows included. Source: marts.national_comparison.';
COMMENT ON COLUMN bi.national_comparison.academic_year IS 'Academic year by its start year (2022 = 2022-23).';
COMMENT ON COLUMN bi.national_comparison.is_imt IS 'True for an IMT school, false for a comparable French engineering school.';
COMMENT ON COLUMN bi.national_comparison.school_code IS 'IMT school code; NULL for national rows.';
COMMENT ON COLUMN bi.national_comparison.uai IS 'UAI code of the school (the register''s current code where known); NULL when not found.';
COMMENT ON COLUMN bi.national_comparison.paysage_id IS 'The ministry''s identifier of the institution (national rows).';
COMMENT ON COLUMN bi.national_comparison.name IS 'Name of the school.';
COMMENT ON COLUMN bi.national_comparison.establishment_type IS 'École or Grand établissement (national rows); NULL for IMT rows.';
COMMENT ON COLUMN bi.national_comparison.students IS 'Students enrolled that year; NULL when masked.';
COMMENT ON COLUMN bi.national_comparison.international_mobility_students IS 'Foreign students whose prior (secondary, for the ministry) diploma is from abroad; NULL when masked or not published.';
COMMENT ON COLUMN bi.national_comparison.international_mobility_share IS 'Their share of the students (0-1); NULL when masked or unknown.';
COMMENT ON COLUMN bi.national_comparison.engineering_students IS 'Students preparing an engineering diploma; NULL when masked.';
COMMENT ON COLUMN bi.national_comparison.engineering_share IS 'Their share of the students (0-1); NULL when masked.';
COMMENT ON COLUMN bi.national_comparison.mobility_share_rank IS 'Rank by international mobility share among all schools of that year (1 = highest); NULL when masked or unknown.';
COMMENT ON COLUMN bi.national_comparison.ranked_in_year IS 'Number of schools ranked that year.';
COMMENT ON COLUMN bi.national_comparison.national_schools_in_year IS 'Number of comparable national schools that year (0 where the ministry has not published yet).';
COMMENT ON COLUMN bi.national_comparison.counted_in_parent IS 'National rows the ministry flags as double-counted in a parent institution (EPE).';
COMMENT ON COLUMN bi.national_comparison.is_epe_component IS 'National rows for a component school of an experimental public institution (EPE).';
COMMENT ON COLUMN bi.national_comparison.source IS 'Where the figures come from: the ministry''s statistics or this warehouse.';
COMMENT ON COLUMN bi.national_comparison.masked IS 'True for a row with a count of people from 1 to 10 (or one implied by subtraction): its counts, shares and rank are then NULL.';
