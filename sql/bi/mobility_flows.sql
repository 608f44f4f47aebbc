-- bi.mobility_flows: marts.mobility_flows with small counts masked (months reveal stays).
CREATE OR REPLACE VIEW bi.mobility_flows AS
WITH flagged AS (
    SELECT *, coalesce(stays BETWEEN 1 AND 10 OR students BETWEEN 1 AND 10, false) AS masked
    FROM marts.mobility_flows
)
SELECT
    school_code, academic_year, direction, scheme, partner_country,
    CASE WHEN masked THEN NULL ELSE stays END AS stays,
    CASE WHEN masked THEN NULL ELSE students END AS students,
    CASE WHEN masked THEN NULL ELSE total_months END AS total_months,
    CASE WHEN masked THEN NULL ELSE avg_duration_months END AS avg_duration_months,
    masked
FROM flagged;

COMMENT ON VIEW bi.mobility_flows IS 'Mobility stays by school, year, direction, scheme and partner country, with counts of 1 to 10 masked (see masked). Source: marts.mobility_flows.';
COMMENT ON COLUMN bi.mobility_flows.school_code IS 'School code.';
COMMENT ON COLUMN bi.mobility_flows.academic_year IS 'Academic year by its start year (2024 = 2024-25).';
COMMENT ON COLUMN bi.mobility_flows.direction IS 'incoming or outgoing.';
COMMENT ON COLUMN bi.mobility_flows.scheme IS 'erasmus, time_double_degree, bilateral_exchange, internship_abroad or other.';
COMMENT ON COLUMN bi.mobility_flows.partner_country IS 'Country of the partner institution, ISO 3166-1 alpha-2.';
COMMENT ON COLUMN bi.mobility_flows.stays IS 'Number of stays; NULL when masked.';
COMMENT ON COLUMN bi.mobility_flows.students IS 'Distinct students; NULL when masked.';
COMMENT ON COLUMN bi.mobility_flows.total_months IS 'Total duration of the stays, months; NULL when masked.';
COMMENT ON COLUMN bi.mobility_flows.avg_duration_months IS 'Average duration of a stay, months; NULL when masked.';
COMMENT ON COLUMN bi.mobility_flows.masked IS 'True when stays or students is between 1 and 10 (counts and months are then NULL).';
