-- bi.foreign_intake_by_region: new entrants by school, year and world region of their
-- nationality, aggregated from marts.foreign_intake BEFORE masking, so that small groups of
-- nationalities still count in their region; then counts of 1 to 10 are masked.
{{ config(alias='foreign_intake_by_region') }}

WITH regions AS (
    SELECT school_code, academic_year, world_region, nationality = 'FR' AS is_french,
           sum(new_entrants) AS new_entrants,
           sum(international_mobility_entrants) AS international_mobility_entrants
    FROM {{ ref('foreign_intake') }}
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
FROM flagged
