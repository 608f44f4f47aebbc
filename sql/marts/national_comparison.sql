-- marts.national_comparison: the IMT schools' international mobility beside the comparable
-- French engineering schools of the ministry's enrolment statistics (real open data).
-- Grain: one row per school and academic year: a national school (paysage_id, is_imt false)
-- or an IMT school (school_code, is_imt true).
--
-- "Comparable" (national rows): a row of the ministry's enrolment statistics
-- (staging.national_enrolment, SISE) whose establishment type that year is 'École' or
-- 'Grand établissement' and which has students preparing an engineering diploma
-- ('Diplôme préparé : Formations d''ingénieurs' > 0), with students > 0. An IMT school that
-- the statistics list under one of its UAI codes is shown once, as an IMT row.
-- Linking: the row's UAI codes (current and former) are looked up among every UAI of the
-- ministry's register (staging.national_institution, current and former codes): a match
-- gives the register's current UAI and name. Schools not in the register (component schools
-- of an EPE such as CentraleSupélec, or schools merged since) keep the statistics' first UAI.
-- IMT rows come from the warehouse: students enrolled that year in any programme
-- (core.fact_enrolment), international mobility as in marts.foreign_intake.
-- Ranks compare every row of a year (national and IMT) by international_mobility_share.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE marts.national_comparison AS
WITH register_codes AS (
    SELECT
        code,
        arg_min(uai, source_row) AS register_uai,
        arg_min(name, source_row) AS register_name
    FROM (
        SELECT unnest(uai_codes) AS code, uai, name, source_row
        FROM staging.national_institution
    )
    GROUP BY code
),
statistics_codes AS (
    SELECT
        paysage_id,
        academic_year,
        unnest(uai_codes) AS code,
        generate_subscripts(uai_codes, 1) AS position
    FROM staging.national_enrolment
),
linked AS (
    SELECT
        s.paysage_id,
        s.academic_year,
        arg_min(r.register_uai, s.position) AS register_uai,
        arg_min(r.register_name, s.position) AS register_name
    FROM statistics_codes AS s
    JOIN register_codes AS r ON r.code = s.code
    GROUP BY s.paysage_id, s.academic_year
),
imt_in_statistics AS (
    SELECT DISTINCT s.paysage_id, s.academic_year
    FROM statistics_codes AS s
    JOIN core.dim_school AS d ON d.uai = s.code
),
national AS (
    SELECT
        e.academic_year,
        false AS is_imt,
        CAST(NULL AS VARCHAR) AS school_code,
        coalesce(l.register_uai, e.uai) AS uai,
        e.paysage_id,
        e.name,
        l.register_name,
        e.establishment_type,
        e.students,
        e.international_mobility_students,
        e.engineering_students,
        e.counted_in_parent,
        e.is_epe_component,
        l.register_uai IS NOT NULL AS in_register,
        'MESR enrolment statistics by institution (SISE, open data)' AS source,
        e.load_id
    FROM staging.national_enrolment AS e
    LEFT JOIN linked AS l
        ON l.paysage_id = e.paysage_id AND l.academic_year = e.academic_year
    WHERE e.establishment_type IN ('École', 'Grand établissement')
        AND coalesce(e.engineering_students, 0) > 0
        AND e.students > 0
        AND NOT EXISTS (
            SELECT 1 FROM imt_in_statistics AS i
            WHERE i.paysage_id = e.paysage_id AND i.academic_year = e.academic_year
        )
),
imt_students AS (
    -- one row per student, school and year (a student in two programmes counts once), so
    -- that the counts below are plain counts, not three DISTINCT aggregates over the facts
    SELECT
        f.academic_year,
        f.school_code,
        f.student_key,
        bool_or(
            f.nationality <> 'FR'
            AND f.prior_degree_country IS NOT NULL
            AND f.prior_degree_country <> 'FR'
        ) AS is_international_mobility,
        bool_or(p.programme_level = 'engineering') AS is_engineering
    FROM core.fact_enrolment AS f
    JOIN core.dim_programme AS p ON p.programme_id = f.programme_id
    GROUP BY f.academic_year, f.school_code, f.student_key
),
imt AS (
    SELECT
        s.academic_year,
        true AS is_imt,
        s.school_code,
        d.uai,
        CAST(NULL AS VARCHAR) AS paysage_id,
        d.school_name AS name,
        CAST(NULL AS VARCHAR) AS register_name,
        CAST(NULL AS VARCHAR) AS establishment_type,
        count(*) AS students,
        count(*) FILTER (WHERE s.is_international_mobility) AS international_mobility_students,
        count(*) FILTER (WHERE s.is_engineering) AS engineering_students,
        false AS counted_in_parent,
        false AS is_epe_component,
        d.uai IS NOT NULL AND d.uai IN (SELECT code FROM register_codes) AS in_register,
        'IMT warehouse (core.fact_enrolment)' AS source,
        CAST(NULL AS VARCHAR) AS load_id
    FROM imt_students AS s
    JOIN core.dim_school AS d ON d.school_code = s.school_code
    GROUP BY s.academic_year, s.school_code, d.uai, d.school_name
),
both_sets AS (
    SELECT * FROM national
    UNION ALL BY NAME
    SELECT * FROM imt
),
shares AS (
    SELECT
        *,
        CAST(international_mobility_students AS DOUBLE) / students AS mobility_ratio
    FROM both_sets
)
SELECT
    academic_year,
    is_imt,
    school_code,
    uai,
    paysage_id,
    name,
    register_name,
    establishment_type,
    CAST(students AS BIGINT) AS students,
    CAST(international_mobility_students AS BIGINT) AS international_mobility_students,
    round(mobility_ratio, 4) AS international_mobility_share,
    CAST(engineering_students AS BIGINT) AS engineering_students,
    round(CAST(engineering_students AS DOUBLE) / students, 4) AS engineering_share,
    CAST(
        CASE WHEN mobility_ratio IS NOT NULL THEN
            rank() OVER (PARTITION BY academic_year, mobility_ratio IS NULL
                         ORDER BY mobility_ratio DESC)
        END AS INTEGER
    ) AS mobility_share_rank,
    CAST(count(mobility_ratio) OVER (PARTITION BY academic_year) AS INTEGER) AS ranked_in_year,
    CAST(
        count(*) FILTER (WHERE NOT is_imt) OVER (PARTITION BY academic_year) AS INTEGER
    ) AS national_schools_in_year,
    counted_in_parent,
    is_epe_component,
    in_register,
    source,
    load_id
FROM shares
ORDER BY academic_year, mobility_share_rank NULLS LAST, is_imt, coalesce(school_code, paysage_id);

COMMENT ON TABLE marts.national_comparison IS 'International attractiveness of the IMT schools beside France''s comparable engineering schools: one row per school and academic year. National rows (is_imt false) are the ministry''s published enrolment statistics (open data, Licence Ouverte) for every school of type École or Grand établissement with students preparing an engineering diploma that year; IMT rows (is_imt true) are computed from this warehouse. Rank IMT''s schools among them with mobility_share_rank (per academic year). The national statistics end at the last year the ministry published; years without them hold IMT rows only (see national_schools_in_year). Empty of national rows until the national data has been loaded once (see audit.loads, school_code MESR).';
COMMENT ON COLUMN marts.national_comparison.academic_year IS 'Academic year as its starting calendar year (2022 = 2022-23), as in the rest of the warehouse.';
COMMENT ON COLUMN marts.national_comparison.is_imt IS 'TRUE for an IMT school (figures from this warehouse), FALSE for a comparable French engineering school (figures from the ministry''s statistics).';
COMMENT ON COLUMN marts.national_comparison.school_code IS 'IMT rows: the school (see core.dim_school). NULL for national rows.';
COMMENT ON COLUMN marts.national_comparison.uai IS 'UAI code of the school: national rows take the current UAI of the ministry''s register when one of the row''s UAI codes (current or former) is in it, else the first UAI the statistics give; IMT rows take core.dim_school.uai (NULL where it was not found).';
COMMENT ON COLUMN marts.national_comparison.paysage_id IS 'National rows: the ministry''s internal identifier of the institution (Paysage), stable across renamings; NULL for IMT rows.';
COMMENT ON COLUMN marts.national_comparison.name IS 'Name of the school: as the ministry''s statistics published it that year (national rows, without the trailing * of component schools), or core.dim_school.school_name (IMT rows).';
COMMENT ON COLUMN marts.national_comparison.register_name IS 'Current name in the ministry''s register of institutions when the school is in it; NULL otherwise and for IMT rows.';
COMMENT ON COLUMN marts.national_comparison.establishment_type IS 'National rows: the ministry''s establishment type that year, ''École'' or ''Grand établissement''; NULL for IMT rows (IMT itself is a grand établissement whose schools have no row of their own in the national registers).';
COMMENT ON COLUMN marts.national_comparison.students IS 'Students enrolled that year. National rows: the ministry''s count of principal enrolments excluding CPGE double enrolments. IMT rows: distinct students enrolled in any programme of the school that year (core.fact_enrolment, every level, exchange students included).';
COMMENT ON COLUMN marts.national_comparison.international_mobility_students IS 'Students in international mobility. National rows: the ministry''s ''Etudiants en mobilité internationale'' (foreign students who obtained their secondary diploma abroad); NULL where it did not publish one. IMT rows: students of foreign nationality whose prior degree was obtained abroad (prior-degree country known and not FR), the warehouse''s equivalent (see marts.foreign_intake).';
COMMENT ON COLUMN marts.national_comparison.international_mobility_share IS 'international_mobility_students divided by students, a fraction between 0 and 1 rounded to 4 decimals (DOUBLE); NULL when the count is unknown.';
COMMENT ON COLUMN marts.national_comparison.engineering_students IS 'Students preparing an engineering diploma (national: ''Diplôme préparé : Formations d''ingénieurs''; IMT: programme_level engineering). Always above 0 for national rows: that is what makes them comparable.';
COMMENT ON COLUMN marts.national_comparison.engineering_share IS 'engineering_students divided by students (0-1, 4 decimals): filter on it to compare with schools that are mostly engineering schools (a grand établissement such as a university with an engineering school inside has a low share).';
COMMENT ON COLUMN marts.national_comparison.mobility_share_rank IS 'Rank of the row among all rows of the same academic year (national and IMT) by international_mobility_share, 1 = the highest share; ties share a rank; NULL when the share is unknown.';
COMMENT ON COLUMN marts.national_comparison.ranked_in_year IS 'Number of rows of that academic year that have a rank (the denominator of mobility_share_rank).';
COMMENT ON COLUMN marts.national_comparison.national_schools_in_year IS 'Number of comparable national schools in that academic year; 0 for years the ministry has not published (yet), where ranks compare IMT schools only.';
COMMENT ON COLUMN marts.national_comparison.counted_in_parent IS 'National rows: TRUE when the ministry flags the row ''Attention : doubles comptes, établissement-composante'': its students are also counted in its parent experimental public institution (EPE), so do not add the two. FALSE for IMT rows.';
COMMENT ON COLUMN marts.national_comparison.is_epe_component IS 'National rows: TRUE for a component school of an experimental public institution (EPE), which the ministry marks with a * after its name (e.g. CentraleSupélec within Université Paris-Saclay); such schools keep their own figures and are comparable. FALSE for IMT rows.';
COMMENT ON COLUMN marts.national_comparison.in_register IS 'TRUE when one of the school''s UAI codes is in the ministry''s register of principal institutions (fr-esr-principaux-etablissements-enseignement-superieur). Component schools of an EPE and schools merged since are not; neither are the IMT schools, which the register lists only as Institut Mines-Télécom as a whole.';
COMMENT ON COLUMN marts.national_comparison.source IS 'Where the figures come from: the ministry''s enrolment statistics by institution (open data) or this warehouse.';
COMMENT ON COLUMN marts.national_comparison.load_id IS 'National rows: the load of the ministry''s export (see audit.loads, with its URL and SHA-256); NULL for IMT rows (their loads are per school file).';
