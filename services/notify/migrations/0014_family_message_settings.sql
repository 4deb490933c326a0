-- depends: 0013_contact_reads
-- What a campus's family messages say besides the school's request to talk
-- (`PUT /v1/settings/family-messages`, `domain/campus_messages.py`):
-- * `counseling_line`: the counseling center's public line, the number a family is given when
--   the on-duty contact has no mobile on file (NULL: none; the message then names the national
--   psychological assistance hotline, 12356);
-- * `sms_signature`: the sender's signature the carriers registered for the campus, put in
--   【】 at the head of every family SMS (NULL: 学校心理中心, as before).
-- A campus may set these and no digest hour: `digest_hour` NULL is the deployment's default,
-- as a campus without a row already was.
ALTER TABLE campus_settings ALTER COLUMN digest_hour DROP NOT NULL;
ALTER TABLE campus_settings
    ADD COLUMN counseling_line text
        CHECK (counseling_line ~ '^[0-9][0-9-]{2,19}$'),
    ADD COLUMN sms_signature text
        CHECK (char_length(sms_signature) BETWEEN 2 AND 12
               AND sms_signature !~ '[][【】［］〖〗〔〕()（）<>《》]');
