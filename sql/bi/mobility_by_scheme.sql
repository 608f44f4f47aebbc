-- bi.mobility_by_scheme: stays by school, year, direction and scheme, aggregated over partner
-- countries from marts.mobility_flows BEFORE masking; then counts of 1 to 10 are masked.
CREATE OR REPLACE VIEW bi.mobility_by_scheme AS
WITH schemes AS (
    SELECT school_code, academic_year, direction, scheme, sum(stays) AS stays,
           sum(total_months) AS total_months
    FROM marts.mobility_flows
    GROUP BY ALL
), flagged AS (
    SELECT *, coalesce(stays BETWEEN 1 AND 10, false) AS masked FROM schemes
)
SELECT
    school_code, academic_year, direction, scheme,
    CASE WHEN masked THEN NULL ELSE stays END::BIGINT AS stays,
    CASE WHEN masked THEN NULL ELSE total_months END AS total_months,
    masked
FROM flagged;

COMMENT ON VIEW bi.mobility_by_scheme IS 'Mobility stays by school, year, direction and scheme (all partner countries together), counts of 1 to 10 masked after aggregation (see masked). Source: marts.mobility_flows.';
COMMENT ON COLUMN bi.mobility_by_scheme.school_code IS 'School code.';
COMMENT ON COLUMN bi.mobility_by_scheme.academic_year IS 'Academic year by its start year (2024 = 2024-25).';
COMMENT ON COLUMN bi.mobility_by_scheme.direction IS 'incoming or outgoing.';
COMMENT ON COLUMN bi.mobility_by_scheme.scheme IS 'erasmus, time_double_degree, bilateral_exchange, internship_abroad or other.';
COMMENT ON COLUMN bi.mobility_by_scheme.stays IS 'Number of stays; NULL when masked.';
COMMENT ON COLUMN bi.mobility_by_scheme.total_months IS 'Total duration of the stays, months; NULL when masked (it would reveal their number).';
COMMENT ON COLUMN bi.mobility_by_scheme.masked IS 'True when stays is between 1 and 10 (stays and months are then NULL).';
