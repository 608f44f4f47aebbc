-- core.dim_country: countries as they appear in nationalities, prior-degree countries and
-- mobility partner countries. Grain: one row per ISO 3166-1 alpha-2 country_code.
-- Source: staging.country (maintained reference list).
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.dim_country AS
SELECT
    country_code,
    name_en,
    name_fr,
    is_eu_eea,
    world_region,
    eu_fee_regime
FROM staging.country
ORDER BY country_code;

COMMENT ON TABLE core.dim_country IS 'Country reference: one row per ISO 3166-1 alpha-2 code (key country_code). Join on nationality, prior_degree_country or partner_country to get names, EU/EEA membership, fee regime and world region.';
COMMENT ON COLUMN core.dim_country.country_code IS 'Primary key. ISO 3166-1 alpha-2 country code (FR, MA, CN, ...). Every source spelling (alpha-3, French or English name) is normalised to this code.';
COMMENT ON COLUMN core.dim_country.name_en IS 'Country name in English (e.g. ''Morocco'').';
COMMENT ON COLUMN core.dim_country.name_fr IS 'Country name in French (e.g. ''Maroc''); NULL when not recorded.';
COMMENT ON COLUMN core.dim_country.is_eu_eea IS 'TRUE for the European Economic Area: the 27 EU member states plus Iceland, Liechtenstein and Norway. Switzerland is FALSE here (see eu_fee_regime).';
COMMENT ON COLUMN core.dim_country.world_region IS 'UN M49 geographic sub-region of the country (e.g. ''Northern Africa'', ''Eastern Asia'', ''Western Europe'').';
COMMENT ON COLUMN core.dim_country.eu_fee_regime IS 'TRUE when nationals of this country pay the ''eu'' tuition fee: EU/EEA countries and Switzerland. Nationals of other countries fall under the ''non_eu'' fee category.';
