"""aiosmtpd handler for the email tests: delivers into a Maildir (aiosmtpd's Mailbox, which
adds X-MailFrom and X-RcptTo), and answers RCPT TO as a relay does for a few local parts:
refused* 550 (no such mailbox), deferred* 450 (try later), throttled* 451 (slow down)."""
from aiosmtpd.handlers import Mailbox


class RefusingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("refused"):
            return "550 5.1.1 No such mailbox here"
        if local.startswith("deferred"):
            return "450 4.2.1 Mailbox busy, try again later"
        if local.startswith("throttled"):
            return "451 4.7.1 Too many messages from you, slow down"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"
