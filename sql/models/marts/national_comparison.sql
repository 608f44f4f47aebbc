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
WITH register_codes AS (
    SELECT
        code,
        arg_min(uai, source_row) AS register_uai,
        arg_min(name, source_row) AS register_name
    FROM (
        SELECT unnest(uai_codes) AS code, uai, name, source_row
        FROM {{ source('national', 'national_institution') }}
    )
    GROUP BY code
),
statistics_codes AS (
    SELECT
        paysage_id,
        academic_year,
        unnest(uai_codes) AS code,
        generate_subscripts(uai_codes, 1) AS position
    FROM {{ source('national', 'national_enrolment') }}
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
    JOIN {{ ref('dim_school') }} AS d ON d.uai = s.code
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
    FROM {{ source('national', 'national_enrolment') }} AS e
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
    FROM {{ ref('fact_enrolment') }} AS f
    JOIN {{ ref('dim_programme') }} AS p ON p.programme_id = f.programme_id
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
    JOIN {{ ref('dim_school') }} AS d ON d.school_code = s.school_code
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
    -- exact fractions (DOUBLE), not rounded: bi.national_comparison rounds them
    mobility_ratio AS international_mobility_share,
    CAST(engineering_students AS BIGINT) AS engineering_students,
    CAST(engineering_students AS DOUBLE) / students AS engineering_share,
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
ORDER BY academic_year, mobility_share_rank NULLS LAST, is_imt, coalesce(school_code, paysage_id)
