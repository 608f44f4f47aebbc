-- bi.international_masters_pricing: marts.international_masters_pricing with small counts
-- masked. Implied counts: EU students (enrolled − enrolled_non_eu) and continuing non-EU
-- students (enrolled_non_eu − new_entrants_non_eu); revenue reveals the counts, so it goes too.
CREATE OR REPLACE VIEW bi.international_masters_pricing AS
WITH flagged AS (
    SELECT *,
        coalesce(enrolled BETWEEN 1 AND 10 OR enrolled_non_eu BETWEEN 1 AND 10
         OR new_entrants_non_eu BETWEEN 1 AND 10
         OR enrolled - enrolled_non_eu BETWEEN 1 AND 10
         OR enrolled_non_eu - new_entrants_non_eu BETWEEN 1 AND 10, false) AS masked
    FROM marts.international_masters_pricing
)
SELECT
    school_code, programme_id, programme_name, programme_level, academic_year,
    fee_eu_eur, fee_non_eu_eur, non_eu_premium_eur, fee_non_eu_change_pct, non_eu_fee_rank,
    CASE WHEN masked THEN NULL ELSE enrolled END AS enrolled,
    CASE WHEN masked THEN NULL ELSE enrolled_non_eu END AS enrolled_non_eu,
    CASE WHEN masked THEN NULL ELSE new_entrants_non_eu END AS new_entrants_non_eu,
    CASE WHEN masked THEN NULL ELSE expected_fee_revenue_eur END AS expected_fee_revenue_eur,
    masked
FROM flagged;

COMMENT ON VIEW bi.international_masters_pricing IS 'Pricing of the international master''s, MSc and mastère spécialisé programmes per school, programme and year, with student counts of 1 to 10 masked (see masked). Source: marts.international_masters_pricing.';
COMMENT ON COLUMN bi.international_masters_pricing.school_code IS 'School code (IMTA, TP, TSP, IMTBS, MSE, IMTNE, ALBI, ALES…).';
COMMENT ON COLUMN bi.international_masters_pricing.programme_id IS 'Programme identifier: school code and the school''s programme code.';
COMMENT ON COLUMN bi.international_masters_pricing.programme_name IS 'Programme name as the school reports it.';
COMMENT ON COLUMN bi.international_masters_pricing.programme_level IS 'msc, mastere_specialise or national_master.';
COMMENT ON COLUMN bi.international_masters_pricing.academic_year IS 'Academic year by its start year (2024 = 2024-25).';
COMMENT ON COLUMN bi.international_masters_pricing.fee_eu_eur IS 'Yearly fee for EU/EEA/Swiss students, euros.';
COMMENT ON COLUMN bi.international_masters_pricing.fee_non_eu_eur IS 'Yearly fee for non-EU students, euros.';
COMMENT ON COLUMN bi.international_masters_pricing.non_eu_premium_eur IS 'Non-EU fee minus EU fee, euros.';
COMMENT ON COLUMN bi.international_masters_pricing.fee_non_eu_change_pct IS 'Change of the non-EU fee against the programme''s previous year, percent (NULL for its first year).';
COMMENT ON COLUMN bi.international_masters_pricing.non_eu_fee_rank IS 'Rank of the non-EU fee among all IMT programmes of the same level and year (1 = highest).';
COMMENT ON COLUMN bi.international_masters_pricing.enrolled IS 'Students enrolled that year; NULL when the row is masked.';
COMMENT ON COLUMN bi.international_masters_pricing.enrolled_non_eu IS 'Enrolled students paying the non-EU fee; NULL when the row is masked.';
COMMENT ON COLUMN bi.international_masters_pricing.new_entrants_non_eu IS 'New entrants paying the non-EU fee; NULL when the row is masked.';
COMMENT ON COLUMN bi.international_masters_pricing.expected_fee_revenue_eur IS 'Sum of the fees of that year''s enrolled students, euros; NULL when the row is masked (it would reveal the counts).';
COMMENT ON COLUMN bi.international_masters_pricing.masked IS 'True when a count of people in this row (or one implied by subtracting two of them) is between 1 and 10: every people count and revenue of the row is then NULL.';
