-- bi.foreign_intake_by_region: new entrants by school, year and world region of their
-- nationality, aggregated from marts.foreign_intake BEFORE masking, so that small groups of
-- nationalities still count in their region; then counts of 1 to 10 are masked.
CREATE OR REPLACE VIEW bi.foreign_intake_by_region AS
WITH regions AS (
    SELECT school_code, academic_year, world_region, nationality = 'FR' AS is_french,
           sum(new_entrants) AS new_entrants,
           sum(international_mobility_entrants) AS international_mobility_entrants
    FROM marts.foreign_intake
    GROUP BY ALL
), flagged AS (
    SELECT *,
        coalesce(new_entrants BETWEEN 1 AND 10
                 OR international_mobility_entrants BETWEEN 1 AND 10
                 OR new_entrants - international_mobility_entrants BETWEEN 1 AND 10, false)
            AS masked
    FROM regions
)
SELECT
    school_code, academic_year, world_region, is_french,
    CASE WHEN masked THEN NULL ELSE new_entrants END::BIGINT AS new_entrants,
    CASE WHEN masked THEN NULL ELSE international_mobility_entrants END::BIGINT
        AS international_mobility_entrants,
    masked
FROM flagged;

COMMENT ON VIEW bi.foreign_intake_by_region IS 'New entrants by school, year and world region of their nationality (French nationals apart), counts of 1 to 10 masked after aggregation (see masked). Source: marts.foreign_intake.';
COMMENT ON COLUMN bi.foreign_intake_by_region.school_code IS 'School code.';
COMMENT ON COLUMN bi.foreign_intake_by_region.academic_year IS 'Academic year by its start year (2024 = 2024-25).';
COMMENT ON COLUMN bi.foreign_intake_by_region.world_region IS 'UN M49 sub-region of the nationality.';
COMMENT ON COLUMN bi.foreign_intake_by_region.is_french IS 'True for the row of French nationals (within Western Europe).';
COMMENT ON COLUMN bi.foreign_intake_by_region.new_entrants IS 'New entrants from that region; NULL when masked.';
COMMENT ON COLUMN bi.foreign_intake_by_region.international_mobility_entrants IS 'Of them, international mobility students (foreign nationality and prior degree from abroad); NULL when masked.';
COMMENT ON COLUMN bi.foreign_intake_by_region.masked IS 'True when a count of people in this row (or their difference) is between 1 and 10: the counts are then NULL.';
