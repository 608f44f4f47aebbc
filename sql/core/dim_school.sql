-- core.dim_school: the IMT schools (reference dimension).
-- Grain: one row per school_code. Source: staging.school, filled from pipelines/*.yaml and,
-- for the official codes, reference/imt_school_identifiers.csv (each code with its source;
-- a code that was not found stays NULL).
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.dim_school AS
SELECT
    school_code,
    school_name,
    city,
    uai,
    erasmus_code,
    time_member_since,
    uai_source,
    uai_status,
    erasmus_code_source
FROM staging.school
ORDER BY school_code;

COMMENT ON TABLE core.dim_school IS 'The schools of Institut Mines-Télécom whose exports feed this warehouse: one row per school (key school_code). Join any fact or mart on school_code to get the school''s name, city and official identifiers (UAI, Erasmus code, each with its source; NULL where not found).';
COMMENT ON COLUMN core.dim_school.school_code IS 'Primary key. Short code of the school: IMTA (IMT Atlantique), ALBI (IMT Mines Albi), ALES (IMT Mines Alès), IMTNE (IMT Nord Europe), MSE (Mines Saint-Étienne), TP (Télécom Paris), TSP (Télécom SudParis), IMTBS (IMT Business School); a newly onboarded school adds its own code.';
COMMENT ON COLUMN core.dim_school.school_name IS 'Official name of the school, e.g. ''IMT Atlantique''.';
COMMENT ON COLUMN core.dim_school.city IS 'City of the school''s main campus; NULL when not recorded.';
COMMENT ON COLUMN core.dim_school.uai IS 'UAI (Unité Administrative Immatriculée), the French national identifier of the institution in the ministry''s registers, from reference/imt_school_identifiers.csv (see uai_source and uai_status); NULL when it was not found (IMT Atlantique, Mines Saint-Étienne, IMT Business School): never guessed.';
COMMENT ON COLUMN core.dim_school.erasmus_code IS 'Erasmus+ institution code (e.g. ''F  BREST09''), used to match Erasmus mobility partners, from reference/imt_school_identifiers.csv (see erasmus_code_source); NULL when not found.';
COMMENT ON COLUMN core.dim_school.time_member_since IS 'Calendar year the school joined the T.I.M.E. (Top Industrial Managers for Europe) double-degree network; NULL when not a member or not recorded.';
COMMENT ON COLUMN core.dim_school.uai_source IS 'Where the UAI comes from (a public dataset and its copy, or the school''s pipelines YAML); NULL when uai is NULL.';
COMMENT ON COLUMN core.dim_school.uai_status IS 'How far the UAI was verified, e.g. ''verified in dataset'', ''verified for IMT Lille Douai; carry-over to IMT Nord Europe unverified'', or ''not found''.';
COMMENT ON COLUMN core.dim_school.erasmus_code_source IS 'Where the Erasmus code comes from (a third-party partner list, not the European Commission''s register); NULL when erasmus_code is NULL.';
