"""What ops and the web app see of a connection request while it runs: its status, the search
attributes (OnboardingStatus, SellerEmailDomain, StuckReason) and the Temporal UI's current
details. ConnectionRequestWorkflow inherits these; they read its state."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vocabulary import search_attributes
    from vocabulary.statuses import StuckReason
    from workflows.markdown import escape


class RequestVisibility:
    def _set_status(self, status: str) -> None:
        """The one place the status changes; ops' view follows it at once."""
        self._status = status
        self._publish()

    def _publish(self) -> None:
        """Keep the search attributes and the UI's current details in step with the status."""
        assert self._input is not None
        pairs = [search_attributes.ONBOARDING_STATUS.value_set(self._status)]
        if self._email_domain:
            pairs.append(search_attributes.SELLER_EMAIL_DOMAIN.value_set(self._email_domain))
        workflow.upsert_search_attributes(pairs)
        i = self._input
        total = len(i.reminder_offsets_seconds)
        seller = f" · seller at {escape(self._email_domain)}" if self._email_domain else ""
        lines = [
            f"**{self._status.replace('_', ' ').capitalize()}** · {escape(i.account_name)} ·"
            f" Amazon {i.marketplace} · asked by {escape(i.requested_by)}{seller}",
            f"Reminders sent: {self._reminders_sent} of {total}",
        ]
        if not self._closed:
            lines.append(f"Link expires {self._deadline():%Y-%m-%d %H:%M} UTC")
        workflow.set_current_details("\n\n".join(lines))

    def _publish_stuck(self) -> None:
        """StuckReason for ops: the mail server while it keeps failing, else Amazon refusing
        the app, else unset."""
        reason = StuckReason.EMAIL_FAILING if self._email_failing else self._app_refused
        key = search_attributes.STUCK_REASON
        workflow.upsert_search_attributes([key.value_set(reason) if reason else key.value_unset()])

    def _clear_app_refused(self) -> None:
        """A connection, or the end of the request: nothing left for ops to fix here."""
        if self._app_refused is not None:
            self._app_refused = None
            self._publish_stuck()
