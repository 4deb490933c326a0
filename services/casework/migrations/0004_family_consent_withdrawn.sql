-- depends: 0003_processed_age
-- A family-contact consent can be withdrawn (notify then stops what it has not sent); a
-- referral's consent cannot (the referral is cancelled instead).
ALTER TABLE consents DROP CONSTRAINT consents_decision_check;
ALTER TABLE consents ADD CONSTRAINT consents_decision_check CHECK (
    decision IN ('given', 'declined', 'overridden', 'withdrawn')
    AND (decision <> 'withdrawn' OR subject = 'family_contact')
);
