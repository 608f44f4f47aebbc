-- bi.foreign_intake: marts.foreign_intake with small counts masked. Implied count: new
-- entrants who are not international-mobility students (new_entrants − international_mobility_entrants).
CREATE OR REPLACE VIEW bi.foreign_intake AS
WITH flagged AS (
    SELECT *,
        coalesce(new_entrants BETWEEN 1 AND 10 OR international_mobility_entrants BETWEEN 1 AND 10
         OR new_entrants_prev_year BETWEEN 1 AND 10
         OR new_entrants - international_mobility_entrants BETWEEN 1 AND 10, false) AS masked
    FROM marts.foreign_intake
)
SELECT
    school_code, academic_year, programme_level, nationality, is_eu_eea, world_region,
    CASE WHEN masked THEN NULL ELSE new_entrants END AS new_entrants,
    CASE WHEN masked THEN NULL ELSE international_mobility_entrants END
        AS international_mobility_entrants,
    CASE WHEN masked THEN NULL ELSE share_of_new_entrants END AS share_of_new_entrants,
    CASE WHEN masked THEN NULL ELSE new_entrants_prev_year END AS new_entrants_prev_year,
    masked
FROM flagged;

COMMENT ON VIEW bi.foreign_intake IS 'New entrants by school, year, programme level and nationality, with counts of 1 to 10 masked (see masked). Source: marts.foreign_intake.';
COMMENT ON COLUMN bi.foreign_intake.school_code IS 'School code.';
COMMENT ON COLUMN bi.foreign_intake.academic_year IS 'Academic year by its start year (2024 = 2024-25).';
COMMENT ON COLUMN bi.foreign_intake.programme_level IS 'Programme level (engineering, msc, bachelor, phd…).';
COMMENT ON COLUMN bi.foreign_intake.nationality IS 'Nationality, ISO 3166-1 alpha-2.';
COMMENT ON COLUMN bi.foreign_intake.is_eu_eea IS 'Whether the nationality is an EU or EEA country.';
COMMENT ON COLUMN bi.foreign_intake.world_region IS 'UN M49 sub-region of the nationality.';
COMMENT ON COLUMN bi.foreign_intake.new_entrants IS 'New entrants of that nationality; NULL when the row is masked.';
COMMENT ON COLUMN bi.foreign_intake.international_mobility_entrants IS 'Of them, foreign nationals whose prior degree is from abroad (the national statistics'' international mobility students); NULL when masked.';
COMMENT ON COLUMN bi.foreign_intake.share_of_new_entrants IS 'Their share of the school''s new entrants at that level and year (0-1); NULL when masked.';
COMMENT ON COLUMN bi.foreign_intake.new_entrants_prev_year IS 'The same count the previous year; NULL when masked or unknown.';
COMMENT ON COLUMN bi.foreign_intake.masked IS 'True when a count of people in this row (or one implied by subtraction) is between 1 and 10: every count and share of the row is then NULL.';
