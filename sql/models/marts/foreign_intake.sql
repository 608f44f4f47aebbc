-- marts.foreign_intake: new entrants by nationality.
-- Grain: one row per school_code, academic_year, programme_level and nationality among new
-- entrants (core.fact_enrolment.is_new_entrant), all nationalities including FR.
-- programme_level comes from core.dim_programme; country attributes from core.dim_country.
-- new_entrants_prev_year looks at academic_year - 1 for the same school, level and
-- nationality: 0 when that year has new entrants for the school and level but none of this
-- nationality, NULL when that year has no new entrants at all for the school and level.
WITH by_nationality AS (
    SELECT
        e.school_code,
        e.academic_year,
        p.programme_level,
        e.nationality,
        count(*) AS new_entrants,
        count(*) FILTER (
            WHERE e.nationality <> 'FR'
            AND e.prior_degree_country IS NOT NULL
            AND e.prior_degree_country <> 'FR'
        ) AS international_mobility_entrants
    FROM {{ ref('fact_enrolment') }} AS e
    JOIN {{ ref('dim_programme') }} AS p ON p.programme_id = e.programme_id
    WHERE e.is_new_entrant
    GROUP BY e.school_code, e.academic_year, p.programme_level, e.nationality
),
by_level AS (
    SELECT school_code, academic_year, programme_level, sum(new_entrants) AS new_entrants
    FROM by_nationality
    GROUP BY school_code, academic_year, programme_level
)
SELECT
    n.school_code,
    n.academic_year,
    n.programme_level,
    n.nationality,
    c.is_eu_eea,
    c.world_region,
    CAST(n.new_entrants AS BIGINT) AS new_entrants,
    CAST(n.international_mobility_entrants AS BIGINT) AS international_mobility_entrants,
    -- exact fraction (DOUBLE), not rounded: bi.foreign_intake rounds it for presentation
    CAST(n.new_entrants AS DOUBLE) / lvl.new_entrants AS share_of_new_entrants,
    CAST(
        CASE WHEN prev_lvl.new_entrants IS NOT NULL THEN coalesce(prev.new_entrants, 0) END
        AS BIGINT
    ) AS new_entrants_prev_year
FROM by_nationality AS n
JOIN by_level AS lvl
    ON lvl.school_code = n.school_code
    AND lvl.academic_year = n.academic_year
    AND lvl.programme_level = n.programme_level
LEFT JOIN by_level AS prev_lvl
    ON prev_lvl.school_code = n.school_code
    AND prev_lvl.academic_year = n.academic_year - 1
    AND prev_lvl.programme_level = n.programme_level
LEFT JOIN by_nationality AS prev
    ON prev.school_code = n.school_code
    AND prev.academic_year = n.academic_year - 1
    AND prev.programme_level = n.programme_level
    AND prev.nationality = n.nationality
LEFT JOIN {{ ref('dim_country') }} AS c ON c.country_code = n.nationality
ORDER BY n.school_code, n.academic_year, n.programme_level, n.nationality
