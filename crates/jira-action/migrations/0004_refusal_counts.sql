-- Refused signatures are audited in aggregate: one record per claimed
-- caller and refusal reason per minute, `count` saying how many calls it
-- stands for (NULL on the record of a single request).
ALTER TABLE audit ADD COLUMN count BIGINT;
ALTER TABLE audit ADD COLUMN reason TEXT;
