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


_MARKETPLACE_ID = {m.country_code: m.id for m in MARKETPLACES.values()}


def _demo_seller(
    tag: str, name: str, selling_partner_id: str, store_name: str, region: str, countries: str
) -> Seller:
    """A demo seller signing in as seller-<tag>@example.com with the shared password, selling in
    the marketplaces of `countries` (space-separated country codes, in the order SP-API lists
    them)."""
    return Seller(
        email=f"seller-{tag}@example.com",
        password=DEMO_PASSWORD,
        name=name,
        selling_partner_id=selling_partner_id,
        store_name=store_name,
        region=region,
        marketplace_ids=tuple(_MARKETPLACE_ID[country] for country in countries.split()),
    )


# One row a seller: tag, name, selling partner id, store name, region, marketplaces' countries.
_ALL = (
    _demo_seller("us", "Dana Demo (US)", "A2DEMOUSSELL01", "Demo Goods US", "NA", "US CA MX"),
    _demo_seller(
        "eu", "Erik Demo (EU)", "A3DEMOEUSELL02", "Demo Goods Europe", "EU", "GB DE FR IT ES"
    ),
    _demo_seller(
        "fe", "Fumiko Demo (FE)", "A1DEMOFESELL03", "Demo Goods Asia Pacific", "FE", "JP AU SG"
    ),
    # A second US seller: signing in with the wrong one of two that both sell there.
    _demo_seller("us2", "Uma Demo (US, second)", "A4DEMOUSSELL04", "Other Goods US", "NA", "US"),
)

SELLERS: dict[str, Seller] = {s.email: s for s in _ALL}


def find_seller(email: str) -> Seller | None:
    """The seller with this email (case-insensitive, as sign-in forms are), if any."""
    return SELLERS.get(email.strip().lower())
