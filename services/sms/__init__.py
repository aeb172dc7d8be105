"""SMS: the ledger's SMS rows sent by day in the partner's time zone (delivery), the brand's
phone suppression list (suppression), STOP replies (inbound) and the embedded outbox's SMS
(outbox). The transports are in mail.sms_transport; the text in content.render.render_sms."""
