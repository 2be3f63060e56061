"""How hard each kind of step tries, and for how long: the retry policies and timeouts every
workflow uses."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Amazon's authorization code dies 5 minutes after the redirect: stop retrying well before.
EXCHANGE_DEADLINE = timedelta(minutes=4)
AMAZON_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    # The seller's grant is no good, or Amazon refused the app itself: retrying cannot help.
    non_retryable_error_types=["AmazonRefused", "AppRefused"],
)
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["EmailRejected"],
)
# Confirmation emails are the last step; when they cannot go out at all the saga compensates.
CONFIRMATION_DEADLINE = timedelta(hours=6)
# A database step: seconds, not minutes.
SHORT = timedelta(seconds=30)
# The web app commits its row right after starting the workflow; if it never does (it crashed),
# the workflow gives up after this long instead of emailing about a request nobody saved.
SAVED_DEADLINE = timedelta(minutes=1)
SAVED_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=2)
)
# After this many failed tries an email step is flagged (StuckReason) for ops, and keeps trying.
FLAG_AFTER_ATTEMPTS = 5
# A notice that helps while the request stays open (a wrong account, Amazon refusing the app) is
# not a confirmation: give up on it rather than keep the request from expiring or being
# withdrawn while the mail server is down for long.
HELP_NOTICE_DEADLINE = timedelta(hours=1)
# A connection's health check: Amazon down is retried quietly for this long, then the next
# check tries again (no alarm: a blip is not a revoked connection).
HEALTH_CHECK_DEADLINE = timedelta(hours=1)
HEALTH_CHECK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["AppRefused"],
)
# A connection's workflow starts afresh (continue-as-new) after this many checks, so its history
# stays small however long it lives.
CHECKS_PER_RUN = 50
