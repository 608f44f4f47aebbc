-- core.regulated_tuition: the tuition fees set by decree (arrêtés) for IMT schools, with the
-- legal text and public source of every amount (reference/regulated_tuition.csv).
-- Grain: one row per school, programme level, range of academic years and fee category.
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.regulated_tuition AS
SELECT
    school_code,
    programme_level,
    first_academic_year,
    last_academic_year,
    fee_category,
    annual_fee_eur,
    also_allowed_eur,
    legal_reference,
    source_url,
    source_type
FROM staging.regulated_tuition
ORDER BY school_code, programme_level, first_academic_year, fee_category;

COMMENT ON TABLE core.regulated_tuition IS 'Regulated yearly tuition of IMT schools (arrêtés), with the legal reference and public source of each amount. The pipeline warns (check fees_match_regulation) when a school reports a different fee. One row per school, programme level, range of academic years and fee category.';
COMMENT ON COLUMN core.regulated_tuition.school_code IS 'School the regulation applies to (core.dim_school).';
COMMENT ON COLUMN core.regulated_tuition.programme_level IS 'Programme level regulated: engineering (diplôme d''ingénieur) or msc (international tracks of the national master).';
COMMENT ON COLUMN core.regulated_tuition.first_academic_year IS 'First academic year (start year) the amount applies to, for that year''s entrants.';
COMMENT ON COLUMN core.regulated_tuition.last_academic_year IS 'Last academic year the amount applies to (2099 = still in force).';
COMMENT ON COLUMN core.regulated_tuition.fee_category IS 'Fee regime: eu (EU/EEA/Swiss) or non_eu.';
COMMENT ON COLUMN core.regulated_tuition.annual_fee_eur IS 'Regulated yearly fee in euros.';
COMMENT ON COLUMN core.regulated_tuition.also_allowed_eur IS 'A second regulated amount where the text allows one (e.g. 6,500 instead of 9,000 for master''s tracks listed by the IMT board); NULL otherwise.';
COMMENT ON COLUMN core.regulated_tuition.legal_reference IS 'The decree (arrêté) and article, or the publication that reports it.';
COMMENT ON COLUMN core.regulated_tuition.source_url IS 'Public web page the amount was taken from.';
COMMENT ON COLUMN core.regulated_tuition.source_type IS 'Kind of source: official (Légifrance), legal text mirror, press, blog (secondary).';
