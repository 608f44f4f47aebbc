-- marts.mobility_flows: mobility stays aggregated.
-- Grain: one row per school_code, academic_year, direction, scheme and partner_country.
-- avg_duration_months = total_months / stays, rounded half away from zero to 1 decimal in
-- exact integer arithmetic (on the per-stay durations of core.fact_mobility).
CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE marts.mobility_flows AS
WITH flows AS (
    SELECT
        school_code,
        academic_year,
        direction,
        scheme,
        partner_country,
        count(*) AS stays,
        count(DISTINCT student_key) AS students,
        sum(duration_months) AS total_months,
        CAST(sum(duration_months) * 10 AS BIGINT) AS total_tenths
    FROM core.fact_mobility
    GROUP BY school_code, academic_year, direction, scheme, partner_country
)
SELECT
    school_code,
    academic_year,
    direction,
    scheme,
    partner_country,
    CAST(stays AS BIGINT) AS stays,
    CAST(students AS BIGINT) AS students,
    CAST(total_months AS DECIMAL(12, 1)) AS total_months,
    CAST(
        CAST(sign(total_tenths) * ((2 * abs(total_tenths) + stays) // (2 * stays))
             AS DECIMAL(18, 0)) * 0.1
        AS DECIMAL(5, 1)
    ) AS avg_duration_months
FROM flows
ORDER BY school_code, academic_year, direction, scheme, partner_country;

COMMENT ON TABLE marts.mobility_flows IS 'Mobility flows: stays by school, academic year, direction (incoming/outgoing), scheme and partner country, with the number of distinct students and the months spent.';
COMMENT ON COLUMN marts.mobility_flows.school_code IS 'IMT school sending (outgoing) or hosting (incoming) the students (see core.dim_school).';
COMMENT ON COLUMN marts.mobility_flows.academic_year IS 'Academic year of the stays as its starting calendar year (2024 = 2024-25).';
COMMENT ON COLUMN marts.mobility_flows.direction IS 'incoming (partners'' students hosted by the school) or outgoing (the school''s students abroad).';
COMMENT ON COLUMN marts.mobility_flows.scheme IS 'Mobility scheme: erasmus (Erasmus+), time_double_degree (T.I.M.E. network double degree), bilateral_exchange, internship_abroad or other.';
COMMENT ON COLUMN marts.mobility_flows.partner_country IS 'Country of the partner, ISO 3166-1 alpha-2 (see core.dim_country): host country for outgoing stays, home country of the partner for incoming ones.';
COMMENT ON COLUMN marts.mobility_flows.stays IS 'Number of mobility stays (rows of core.fact_mobility).';
COMMENT ON COLUMN marts.mobility_flows.students IS 'Number of distinct students (student_key) making those stays; lower than stays when a student made several.';
COMMENT ON COLUMN marts.mobility_flows.total_months IS 'Sum of the stays'' durations in months (core.fact_mobility.duration_months: days / 30.4375, each rounded to 1 decimal).';
COMMENT ON COLUMN marts.mobility_flows.avg_duration_months IS 'Average length of a stay in months: total_months / stays, rounded half away from zero to 1 decimal.';
