"""Every email name a workflow can send has a composer; an unknown one fails for good."""

import pytest
from temporalio.exceptions import ApplicationError

from activities.mail import composer
from core.account_emails import ACCOUNT_EMAILS
from core.invitation_emails import NOTICES as INVITATION_NOTICES
from core.request_emails import NOTICES as REQUEST_NOTICES
from vocabulary.notices import AccountEmail, InvitationNotice, RequestNotice


@pytest.mark.parametrize(
    "names, registry",
    [
        (RequestNotice, REQUEST_NOTICES),
        (InvitationNotice, INVITATION_NOTICES),
        (AccountEmail, ACCOUNT_EMAILS),
    ],
)
def test_every_name_has_a_composer(names, registry):
    assert set(registry) == set(names)


def test_an_unknown_name_decodes_and_fails_without_retries():
    unknown = RequestNotice("no_such_notice")  # as a history or a caller might carry it
    assert unknown == "no_such_notice"
    with pytest.raises(ApplicationError, match="unknown notice no_such_notice") as failure:
        composer(REQUEST_NOTICES, unknown, "notice")
    assert failure.value.non_retryable
