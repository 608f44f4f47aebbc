-- bi.foreign_intake: marts.foreign_intake with small counts masked. Implied count: new
-- entrants who are not international-mobility students (new_entrants − international_mobility_entrants).
{{ config(alias='foreign_intake') }}

WITH flagged AS (
    SELECT *,
        coalesce(new_entrants BETWEEN 1 AND 10 OR international_mobility_entrants BETWEEN 1 AND 10
         OR new_entrants_prev_year BETWEEN 1 AND 10
         OR new_entrants - international_mobility_entrants BETWEEN 1 AND 10, false) AS masked
    FROM {{ ref('foreign_intake') }}
)
SELECT
    school_code, academic_year, programme_level, nationality, is_eu_eea, world_region,
    CASE WHEN masked THEN NULL ELSE new_entrants END AS new_entrants,
    CASE WHEN masked THEN NULL ELSE international_mobility_entrants END
        AS international_mobility_entrants,
    CASE WHEN masked THEN NULL ELSE round(share_of_new_entrants, 4) END AS share_of_new_entrants,
    CASE WHEN masked THEN NULL ELSE new_entrants_prev_year END AS new_entrants_prev_year,
    masked
FROM flagged
