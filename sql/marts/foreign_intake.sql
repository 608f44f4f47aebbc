-- marts.foreign_intake: new entrants by nationality.
-- Grain: one row per school_code, academic_year, programme_level and nationality among new
-- entrants (core.fact_enrolment.is_new_entrant), all nationalities including FR.
-- programme_level comes from core.dim_programme; country attributes from core.dim_country.
-- new_entrants_prev_year looks at academic_year - 1 for the same school, level and
-- nationality: 0 when that year has new entrants for the school and level but none of this
-- nationality, NULL when that year has no new entrants at all for the school and level.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE marts.foreign_intake AS
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
    FROM core.fact_enrolment AS e
    JOIN core.dim_programme AS p ON p.programme_id = e.programme_id
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
    round(CAST(n.new_entrants AS DOUBLE) / lvl.new_entrants, 4) AS share_of_new_entrants,
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
LEFT JOIN core.dim_country AS c ON c.country_code = n.nationality
ORDER BY n.school_code, n.academic_year, n.programme_level, n.nationality;

COMMENT ON TABLE marts.foreign_intake IS 'Intake by nationality: one row per school, academic year, programme level and nationality of new entrants (students starting a programme that year), French students included. Counts international mobility students (foreign nationality and foreign prior degree), the nationality''s share of the intake and last year''s figure.';
COMMENT ON COLUMN marts.foreign_intake.school_code IS 'School admitting the students (see core.dim_school).';
COMMENT ON COLUMN marts.foreign_intake.academic_year IS 'Academic year of entry as its starting calendar year (2024 = 2024-25).';
COMMENT ON COLUMN marts.foreign_intake.programme_level IS 'Level of the programme entered (from core.dim_programme): bachelor, engineering, msc, mastere_specialise, national_master, phd, exchange or other.';
COMMENT ON COLUMN marts.foreign_intake.nationality IS 'Nationality of the new entrants, ISO 3166-1 alpha-2 (FR included).';
COMMENT ON COLUMN marts.foreign_intake.is_eu_eea IS 'TRUE when the nationality is an EU/EEA country (EU 27 + Iceland, Liechtenstein, Norway), from core.dim_country; NULL if the country is not in the reference.';
COMMENT ON COLUMN marts.foreign_intake.world_region IS 'UN M49 sub-region of the nationality (e.g. ''Northern Africa''), from core.dim_country; NULL if the country is not in the reference.';
COMMENT ON COLUMN marts.foreign_intake.new_entrants IS 'Number of students of this nationality who entered a programme of this level at the school that year.';
COMMENT ON COLUMN marts.foreign_intake.international_mobility_entrants IS 'Among new_entrants, those in international mobility in the national statistics'' sense: nationality other than FR AND prior degree obtained abroad (prior_degree_country known and not FR). Foreign students with a French prior degree, or an unknown prior-degree country, are not counted. Always 0 for FR.';
COMMENT ON COLUMN marts.foreign_intake.share_of_new_entrants IS 'new_entrants divided by all new entrants of the same school, academic year and programme level (all nationalities), as a fraction between 0 and 1 rounded to 4 decimals (DOUBLE).';
COMMENT ON COLUMN marts.foreign_intake.new_entrants_prev_year IS 'new_entrants of the same school, programme level and nationality in the previous academic year (academic_year - 1). 0 when the previous year had new entrants for that school and level but none of this nationality; NULL when the previous year had no new entrants at all for that school and level (no data to compare with).';
