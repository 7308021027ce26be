"""The review page draws its letter shortcuts so they read as letters (O is not the digit 0)."""

import re

from django.contrib.staticfiles import finders
from django.urls import reverse

from gallery.selectors.reviews import review_queue
from gallery.services.reviews import campaign_create


def test_the_outline_shortcut_reads_as_the_letter_o(expert_client, curator, expert, restorations):
    campaign = campaign_create(
        created_by=curator,
        title="Keys",
        instructions="",
        restorations=restorations,
        experts=[expert],
        open_now=True,
        reference="damaged",
    )
    item = review_queue(campaign=campaign, expert=expert)[0]

    page = expert_client.get(reverse("gallery:review_item", args=[campaign.pk, item.token]))

    keys = re.findall(r"<kbd([^>]*)>O</kbd>", page.content.decode())
    assert len(keys) == 2  # beside the checkbox and in the list of shortcuts
    assert all('class="letter"' in attrs and "the letter O" in attrs for attrs in keys)
    # Letter keys get a proportional face; the monospaced one draws O like 0.
    with open(finders.find("css/app.css")) as css:
        rule = re.search(r"kbd\.letter \{([^}]*)\}", css.read())
    assert rule and "monospace" not in rule.group(1) and "sans-serif" in rule.group(1)
