"""Amazon's marketplaces and the hosts that serve them (amazon-sp-api.md, section 5)."""

from dataclasses import dataclass

# Amazon's own sign-out, on each marketplace's Seller Central host, which returns the browser to
# `openid.return_to` (there: our consent URL on the same host). Not in the SP-API documentation:
# Amazon's sign-in service answers under /ap/ (/ap/signin, /ap/signout) and speaks OpenID 2.0
# parameters (openid.return_to, openid.assoc_handle). Not verified offline: that Seller Central's
# /ap/signout honours openid.return_to for its consent page, and whether it also wants its
# openid.assoc_handle. See docs/operations.md, "Amazon's sign-out URL".
SIGN_OUT_PATH = "/ap/signout"
SIGN_OUT_RETURN_PARAM = "openid.return_to"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    spapi_endpoint: str


@dataclass(frozen=True)
class Marketplace:
    country: str
    name: str
    marketplace_id: str
    region: Region
    seller_central_url: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.country})"

    @property
    def place(self) -> str:
        """The country as a sentence says it: 'sells in the UK', 'sells in Germany'."""
        return _PLACES.get(self.country, self.name)

    @property
    def sign_out_url(self) -> str:
        """Where Amazon signs a seller out of this marketplace's Seller Central."""
        return f"{self.seller_central_url}{SIGN_OUT_PATH}"


NA = Region("NA", "North America", "https://sellingpartnerapi-na.amazon.com")
EU = Region("EU", "Europe, Middle East and India", "https://sellingpartnerapi-eu.amazon.com")
FE = Region("FE", "Far East", "https://sellingpartnerapi-fe.amazon.com")
REGIONS = (NA, EU, FE)

_EUROPE = "https://sellercentral-europe.amazon.com"

MARKETPLACES: tuple[Marketplace, ...] = (
    Marketplace("CA", "Canada", "A2EUQ1WTGCTBG2", NA, "https://sellercentral.amazon.ca"),
    Marketplace("US", "United States", "ATVPDKIKX0DER", NA, "https://sellercentral.amazon.com"),
    Marketplace("MX", "Mexico", "A1AM78C64UM0Y8", NA, "https://sellercentral.amazon.com.mx"),
    Marketplace("BR", "Brazil", "A2Q3Y263D00KWC", NA, "https://sellercentral.amazon.com.br"),
    Marketplace("IE", "Ireland", "A28R8C7NBKEWEA", EU, "https://sellercentral.amazon.ie"),
    Marketplace("ES", "Spain", "A1RKKUPIHCS9HS", EU, _EUROPE),
    Marketplace("UK", "United Kingdom", "A1F83G8C2ARO7P", EU, _EUROPE),
    Marketplace("FR", "France", "A13V1IB3VIYZZH", EU, _EUROPE),
    Marketplace("BE", "Belgium", "AMEN7PMS3EDWL", EU, "https://sellercentral.amazon.com.be"),
    Marketplace("NL", "Netherlands", "A1805IZSGTT6HS", EU, "https://sellercentral.amazon.nl"),
    Marketplace("DE", "Germany", "A1PA6795UKMFR9", EU, _EUROPE),
    Marketplace("IT", "Italy", "APJ6JRA9NG5V4", EU, _EUROPE),
    Marketplace("SE", "Sweden", "A2NODRKZP88ZB9", EU, "https://sellercentral.amazon.se"),
    Marketplace("ZA", "South Africa", "AE08WJ6YKNBMC", EU, "https://sellercentral.amazon.co.za"),
    Marketplace("PL", "Poland", "A1C3SOZRARQ6R3", EU, "https://sellercentral.amazon.pl"),
    Marketplace("EG", "Egypt", "ARBP9OOSHTCHU", EU, "https://sellercentral.amazon.eg"),
    Marketplace("TR", "Turkey", "A33AVAJ2PDY3EV", EU, "https://sellercentral.amazon.com.tr"),
    Marketplace("SA", "Saudi Arabia", "A17E79C6D8DWNP", EU, "https://sellercentral.amazon.sa"),
    Marketplace(
        "AE", "United Arab Emirates", "A2VIGQ35RCS4UG", EU, "https://sellercentral.amazon.ae"
    ),
    Marketplace("IN", "India", "A21TJRUUN4KGV", EU, "https://sellercentral.amazon.in"),
    Marketplace("SG", "Singapore", "A19VAU5U5O7RUS", FE, "https://sellercentral.amazon.sg"),
    Marketplace("AU", "Australia", "A39IBJ37TRP1C6", FE, "https://sellercentral.amazon.com.au"),
    Marketplace("JP", "Japan", "A1VC38T7YXB528", FE, "https://sellercentral.amazon.co.jp"),
)

BY_COUNTRY = {m.country: m for m in MARKETPLACES}
BY_ID = {m.marketplace_id: m for m in MARKETPLACES}
_PLACES = {"UK": "the UK", "US": "the US", "AE": "the UAE", "NL": "the Netherlands"}


def get(country: str) -> Marketplace:
    """The marketplace for a two-letter code; KeyError when there is none."""
    return BY_COUNTRY[country]


def grouped() -> list[tuple[Region, list[Marketplace]]]:
    """Marketplaces grouped by region, for select boxes."""
    return [(r, [m for m in MARKETPLACES if m.region is r]) for r in REGIONS]


def same_region_problem(country: str, *others: str) -> str:
    """Why `country` cannot be asked for beside `others` (one Amazon authorization covers a
    whole region, so two marketplaces of one region are one), or '' when it can."""
    if country not in BY_COUNTRY:
        return ""
    region = get(country).region
    for other in others:
        if other in BY_COUNTRY and get(other).region == region:
            return (
                f"{get(other).label} is in {region.name} already: one Amazon authorization covers"
                " a whole region. Choose another region, or none."
            )
    return ""


def other_regions_problem(marketplace: str, also: list[str]) -> str:
    """Why marketplaces asked for together are refused (two of one region), or ''."""
    for index, country in enumerate(also):
        problem = same_region_problem(country, marketplace, *also[:index])
        if problem:
            return problem
    return ""
