-- core.dim_school: the IMT schools (reference dimension).
-- Grain: one row per school_code. Source: staging.school (filled from pipelines/*.yaml).
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.dim_school AS
SELECT
    school_code,
    school_name,
    city,
    uai,
    erasmus_code,
    time_member_since
FROM staging.school
ORDER BY school_code;

COMMENT ON TABLE core.dim_school IS 'The schools of Institut Mines-Télécom whose exports feed this warehouse: one row per school (key school_code). Join any fact or mart on school_code to get the school''s name, city and official identifiers.';
COMMENT ON COLUMN core.dim_school.school_code IS 'Primary key. Short code of the school: IMTA (IMT Atlantique), ALBI (IMT Mines Albi), ALES (IMT Mines Alès), IMTNE (IMT Nord Europe), MSE (Mines Saint-Étienne), TP (Télécom Paris), TSP (Télécom SudParis), IMTBS (IMT Business School); a newly onboarded school adds its own code.';
COMMENT ON COLUMN core.dim_school.school_name IS 'Official name of the school, e.g. ''IMT Atlantique''.';
COMMENT ON COLUMN core.dim_school.city IS 'City of the school''s main campus; NULL when not recorded.';
COMMENT ON COLUMN core.dim_school.uai IS 'UAI (Unité Administrative Immatriculée), the French national identifier of the institution in the ministry''s register; NULL when not recorded.';
COMMENT ON COLUMN core.dim_school.erasmus_code IS 'Erasmus+ institution code (e.g. ''F  BREST09''), used to match Erasmus mobility partners; NULL when not recorded.';
COMMENT ON COLUMN core.dim_school.time_member_since IS 'Calendar year the school joined the T.I.M.E. (Top Industrial Managers for Europe) double-degree network; NULL when not a member or not recorded.';
