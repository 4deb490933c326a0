-- depends: 0002_processed_age
-- A failed census batch says why in English too (failure stays the zh-CN text), so that
-- GET on the batch answers in the caller's language like every other message.
ALTER TABLE census_batches ADD COLUMN failure_en text;
