"""Bounce tests' parts: the real bounces in tests/data/bounces/ and the form's Find button."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import csrf_token

# Real bounces from the Sisimai project (BSD 2-Clause; see the folder's README and LICENSE).
CORPUS = Path(__file__).parent / "data" / "bounces"


@dataclass(frozen=True)
class CorpusBounce:
    file: str
    expected_ip: str | None
    category: str

    def text(self) -> str:
        """The message as pasted: its bytes read as UTF-8, CRLF line ends kept."""
        return (CORPUS / self.file).read_bytes().decode("utf-8", "replace")


def corpus(*categories: str) -> list[CorpusBounce]:
    """The corpus rows of expected.tsv, all of them or those of the given categories."""
    with (CORPUS / "expected.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        CorpusBounce(
            row["file"],
            None if row["expected_ip"] == "none" else row["expected_ip"],
            row["category"],
        )
        for row in rows
        if not categories or row["category"] in categories
    ]


def corpus_bounce(prefix: str) -> CorpusBounce:
    """The corpus row whose file name starts with `prefix` (e.g. "22-")."""
    [row] = [row for row in corpus() if row.file.startswith(prefix)]
    return row


def exchange_ndr(reply: str, original_headers: str) -> str:
    """An Exchange Online / Outlook.com report around a reply, as its text part reads."""
    return (
        "Delivery has failed to these recipients or groups:\n\nsomeone@example.org\n"
        "Your message wasn't delivered because the recipient's email provider rejected it.\n\n"
        "Diagnostic information for administrators:\n\n"
        "Generating server: SA0PR17MB4313.namprd17.prod.outlook.com\n\n"
        f"someone@example.org\nRemote Server returned '{reply}'\n\n"
        f"Original message headers:\n\n{original_headers}"
    )


# Microsoft's DMARC refusal (the corpus has none): its reply names a domain, no address.
DMARC_NDR = exchange_ndr(
    "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification "
    "and has a DMARC policy of reject.",
    "Received: from PH0PR07CA0045.namprd07.prod.outlook.com (2603:10b6:510:e::20)\n"
    "Authentication-Results: spf=pass (sender IP is 198.51.100.44)\n",
)


def find(client, bounce: str, ip: str = "", email: str = "", **extra):
    """Press "Find the IP address" on the delist form with this bounce pasted."""
    page = client.get("/")
    data = {"csrf_token": csrf_token(page.text), "email": email, "ip": ip, "bounce": bounce}
    return client.post("/", data={**data, "find": "Find the IP address", **extra})


def choose(client, bounce: str, chosen: str | None):
    """Press "Use the chosen address" with one of the radio buttons (or none) chosen."""
    page = client.get("/")
    data = {"csrf_token": csrf_token(page.text), "email": "", "ip": "", "bounce": bounce}
    if chosen is not None:
        data["chosen_ip"] = chosen
    return client.post("/", data={**data, "choose": "Use the chosen address"})
