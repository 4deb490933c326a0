-- What a completed follow-up (回访) found: relieved (缓解), stable, worsened. Each `relieved`
-- is one person-time relieved in the outcome figures (stats reads it from the
-- `shouwang.follow_up.updated` event). Optional: older follow-ups and those closed without a
-- finding keep NULL.
-- depends: 0004_family_consent_withdrawn

ALTER TABLE follow_ups
    ADD COLUMN finding text CHECK (finding IN ('relieved', 'stable', 'worsened'));
