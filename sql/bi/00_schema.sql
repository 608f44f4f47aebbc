-- bi: what dashboards shared beyond the data team read. Views over the marts in which any
-- count of people from 1 to 10 is masked (NULL); a row with any such count — or any count
-- implied by subtracting two of its columns — has all its people counts and the figures
-- derived from them masked, and says so in `masked`. Fees are not counts of people and stay.
CREATE SCHEMA IF NOT EXISTS bi;
