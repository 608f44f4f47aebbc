-- marts.international_masters_pricing: fees and enrolment of IMT master's-level programmes.
-- Grain: one row per school, programme and academic year (programme_id, academic_year) for
-- programmes whose level (core.dim_programme) is msc, mastere_specialise or national_master,
-- in every year where the programme has a fee row or at least one enrolled student.
-- Rules:
--   * fee_non_eu_change_pct compares with the programme's previous row in this mart (LAG over
--     its academic years in order), NULL for its first year or when either fee is NULL/zero;
--     computed in exact integer arithmetic and rounded half away from zero to 2 decimals.
--   * non_eu_fee_rank: RANK() within (programme_level, academic_year) by non-EU fee,
--     highest = 1, ties share a rank; NULL when the programme has no non-EU fee.
--   * expected_fee_revenue_eur: each enrolled student contributes the fee of their own
--     fee_category for that programme and year; a student whose category has no fee row
--     contributes nothing (0), so the figure is a lower bound when the grid is incomplete.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE marts.international_masters_pricing AS
WITH masters AS (
    SELECT programme_id, school_code, programme_name, programme_level
    FROM core.dim_programme
    WHERE programme_level IN ('msc', 'mastere_specialise', 'national_master')
),
fees AS (
    SELECT
        programme_id,
        academic_year,
        max(annual_fee_eur) FILTER (WHERE fee_category = 'eu') AS fee_eu_eur,
        max(annual_fee_eur) FILTER (WHERE fee_category = 'non_eu') AS fee_non_eu_eur
    FROM core.fact_tuition_fee
    GROUP BY programme_id, academic_year
),
enrolment AS (
    SELECT
        e.programme_id,
        e.academic_year,
        count(*) AS enrolled,
        count(*) FILTER (WHERE e.fee_category = 'non_eu') AS enrolled_non_eu,
        count(*) FILTER (WHERE e.fee_category = 'non_eu' AND e.is_new_entrant)
            AS new_entrants_non_eu,
        sum(f.annual_fee_eur) AS expected_fee_revenue_eur
    FROM core.fact_enrolment AS e
    LEFT JOIN core.fact_tuition_fee AS f
        ON f.programme_id = e.programme_id
        AND f.academic_year = e.academic_year
        AND f.fee_category = e.fee_category
    GROUP BY e.programme_id, e.academic_year
),
programme_years AS (
    SELECT programme_id, academic_year FROM fees
    UNION
    SELECT programme_id, academic_year FROM enrolment
),
base AS (
    SELECT
        m.school_code,
        py.programme_id,
        m.programme_name,
        py.academic_year,
        f.fee_eu_eur,
        f.fee_non_eu_eur,
        lag(f.fee_non_eu_eur) OVER (
            PARTITION BY py.programme_id ORDER BY py.academic_year
        ) AS prev_fee_non_eu_eur,
        coalesce(e.enrolled, 0) AS enrolled,
        coalesce(e.enrolled_non_eu, 0) AS enrolled_non_eu,
        coalesce(e.new_entrants_non_eu, 0) AS new_entrants_non_eu,
        coalesce(e.expected_fee_revenue_eur, 0) AS expected_fee_revenue_eur,
        m.programme_level
    FROM programme_years AS py
    JOIN masters AS m ON m.programme_id = py.programme_id
    LEFT JOIN fees AS f
        ON f.programme_id = py.programme_id AND f.academic_year = py.academic_year
    LEFT JOIN enrolment AS e
        ON e.programme_id = py.programme_id AND e.academic_year = py.academic_year
),
in_cents AS (
    SELECT
        *,
        CAST((fee_non_eu_eur - prev_fee_non_eu_eur) * 100 AS BIGINT) AS change_cents,
        CAST(prev_fee_non_eu_eur * 100 AS BIGINT) AS prev_cents
    FROM base
)
SELECT
    school_code,
    programme_id,
    programme_name,
    academic_year,
    CAST(fee_eu_eur AS DECIMAL(10, 2)) AS fee_eu_eur,
    CAST(fee_non_eu_eur AS DECIMAL(10, 2)) AS fee_non_eu_eur,
    CAST(fee_non_eu_eur - fee_eu_eur AS DECIMAL(10, 2)) AS non_eu_premium_eur,
    -- 100 * change / prev, rounded half away from zero to hundredths, without floating point:
    -- hundredths = sign(change) * floor((20000 * |change| + prev) / (2 * prev)).
    CASE
        WHEN prev_cents > 0 AND change_cents IS NOT NULL THEN
            CAST(
                CAST(sign(change_cents) * ((20000 * abs(change_cents) + prev_cents)
                                           // (2 * prev_cents)) AS DECIMAL(18, 0)) * 0.01
                AS DECIMAL(18, 2))
    END AS fee_non_eu_change_pct,
    CASE
        WHEN fee_non_eu_eur IS NOT NULL THEN
            rank() OVER (
                PARTITION BY programme_level, academic_year
                ORDER BY fee_non_eu_eur DESC NULLS LAST
            )
    END AS non_eu_fee_rank,
    CAST(enrolled AS BIGINT) AS enrolled,
    CAST(enrolled_non_eu AS BIGINT) AS enrolled_non_eu,
    CAST(new_entrants_non_eu AS BIGINT) AS new_entrants_non_eu,
    CAST(expected_fee_revenue_eur AS DECIMAL(14, 2)) AS expected_fee_revenue_eur,
    programme_level
FROM in_cents
ORDER BY school_code, programme_id, academic_year;

COMMENT ON TABLE marts.international_masters_pricing IS 'Pricing of IMT master''s-level programmes (levels msc, mastere_specialise, national_master): one row per school, programme and academic year in which the programme has a published fee or enrolled students. Gives EU and non-EU fees, the non-EU premium, its year-on-year change, the programme''s rank by non-EU fee, enrolment and the tuition revenue those enrolments imply.';
COMMENT ON COLUMN marts.international_masters_pricing.school_code IS 'School offering the programme (see core.dim_school).';
COMMENT ON COLUMN marts.international_masters_pricing.programme_id IS 'Programme, school_code || '':'' || programme_code (see core.dim_programme).';
COMMENT ON COLUMN marts.international_masters_pricing.programme_name IS 'Programme name (from core.dim_programme: its most recent name).';
COMMENT ON COLUMN marts.international_masters_pricing.academic_year IS 'Academic year as its starting calendar year (2024 = 2024-25).';
COMMENT ON COLUMN marts.international_masters_pricing.fee_eu_eur IS 'Annual fee in euros for the eu category (EU/EEA/Swiss nationals) that year, DECIMAL(10,2); NULL when the school published no EU fee.';
COMMENT ON COLUMN marts.international_masters_pricing.fee_non_eu_eur IS 'Annual fee in euros for the non_eu category that year, DECIMAL(10,2); NULL when the school published no non-EU fee.';
COMMENT ON COLUMN marts.international_masters_pricing.non_eu_premium_eur IS 'fee_non_eu_eur minus fee_eu_eur, in euros: what a non-EU student pays on top of an EU student. NULL when either fee is missing.';
COMMENT ON COLUMN marts.international_masters_pricing.fee_non_eu_change_pct IS 'Change of the non-EU fee against the same programme''s previous academic year present in this table, in percent: 100 * (fee - previous fee) / previous fee, rounded half away from zero to 2 decimals (exact decimal arithmetic). NULL for the programme''s first year, or when this year''s or the previous year''s non-EU fee is missing (or zero).';
COMMENT ON COLUMN marts.international_masters_pricing.non_eu_fee_rank IS 'Rank of the programme''s non-EU fee among all IMT programmes of the same programme_level and academic year: 1 = most expensive; equal fees share a rank and the next rank is skipped (SQL RANK). NULL when the programme has no non-EU fee that year.';
COMMENT ON COLUMN marts.international_masters_pricing.enrolled IS 'Number of students enrolled in the programme that academic year (all fee categories, new and continuing).';
COMMENT ON COLUMN marts.international_masters_pricing.enrolled_non_eu IS 'Number of enrolled students in the non_eu fee category that year.';
COMMENT ON COLUMN marts.international_masters_pricing.new_entrants_non_eu IS 'Number of students in the non_eu fee category who entered the programme that year (is_new_entrant).';
COMMENT ON COLUMN marts.international_masters_pricing.expected_fee_revenue_eur IS 'Tuition revenue implied by enrolment, in euros, DECIMAL(14,2): the sum over that year''s enrolled students of the programme''s fee for each student''s own fee_category. A student whose category has no published fee contributes nothing, so the figure understates revenue when the fee grid is incomplete; 0 when nobody is enrolled. Ignores waivers and scholarships.';
COMMENT ON COLUMN marts.international_masters_pricing.programme_level IS 'Level of the programme (from core.dim_programme): msc, mastere_specialise or national_master. Ranks are computed within a level.';
