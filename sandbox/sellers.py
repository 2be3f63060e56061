"""Demo seller accounts that can sign in to the stand-in's Seller Central."""

from dataclasses import dataclass

from .marketplaces import MARKETPLACES, Marketplace

# One shared password, shown on the sign-in page: these accounts guard nothing.
DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class Seller:
    """A seller account: who signs in, and what SP-API reports about them."""

    email: str
    password: str
    name: str
    selling_partner_id: str
    store_name: str
    region: str
    marketplace_ids: tuple[str, ...]

    @property
    def marketplaces(self) -> list[Marketplace]:
        return [MARKETPLACES[mid] for mid in self.marketplace_ids]


_ALL = (
    Seller(
        email="seller-us@example.com",
        password=DEMO_PASSWORD,
        name="Dana Demo (US)",
        selling_partner_id="A2DEMOUSSELL01",
        store_name="Demo Goods US",
        region="NA",
        marketplace_ids=("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"),
    ),
    Seller(
        email="seller-eu@example.com",
        password=DEMO_PASSWORD,
        name="Erik Demo (EU)",
        selling_partner_id="A3DEMOEUSELL02",
        store_name="Demo Goods Europe",
        region="EU",
        marketplace_ids=(
            "A1F83G8C2ARO7P",
            "A1PA6795UKMFR9",
            "A13V1IB3VIYZZH",
            "APJ6JRA9NG5V4",
            "A1RKKUPIHCS9HS",
        ),
    ),
    Seller(
        email="seller-fe@example.com",
        password=DEMO_PASSWORD,
        name="Fumiko Demo (FE)",
        selling_partner_id="A1DEMOFESELL03",
        store_name="Demo Goods Asia Pacific",
        region="FE",
        marketplace_ids=("A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"),
    ),
)

SELLERS: dict[str, Seller] = {s.email: s for s in _ALL}


def find_seller(email: str) -> Seller | None:
    """The seller with this email (case-insensitive, as sign-in forms are), if any."""
    return SELLERS.get(email.strip().lower())
