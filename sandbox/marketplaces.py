"""Amazon marketplaces, as SP-API describes them in marketplaceParticipations."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace; field names follow the SP-API payload, snake_cased."""

    id: str
    country_code: str
    name: str
    default_currency_code: str
    default_language_code: str
    domain_name: str
    region: str

    def to_payload(self) -> dict[str, str]:
        """The `marketplace` object of a marketplaceParticipations entry."""
        return {
            "id": self.id,
            "name": self.name,
            "countryCode": self.country_code,
            "defaultCurrencyCode": self.default_currency_code,
            "defaultLanguageCode": self.default_language_code,
            "domainName": self.domain_name,
        }


# Ids from Amazon's "Marketplace IDs" table. The payload's countryCode is ISO 3166 (GB for the UK
# marketplace), which is what the live API returns even though Amazon's docs table says "UK".
_ALL = (
    # North America
    Marketplace("A2EUQ1WTGCTBG2", "CA", "Amazon.ca", "CAD", "en_CA", "www.amazon.ca", "NA"),
    Marketplace("ATVPDKIKX0DER", "US", "Amazon.com", "USD", "en_US", "www.amazon.com", "NA"),
    Marketplace("A1AM78C64UM0Y8", "MX", "Amazon.com.mx", "MXN", "es_MX", "www.amazon.com.mx", "NA"),
    Marketplace("A2Q3Y263D00KWC", "BR", "Amazon.com.br", "BRL", "pt_BR", "www.amazon.com.br", "NA"),
    # Europe, Middle East, Africa, India
    Marketplace("A28R8C7NBKEWEA", "IE", "Amazon.ie", "EUR", "en_IE", "www.amazon.ie", "EU"),
    Marketplace("A1RKKUPIHCS9HS", "ES", "Amazon.es", "EUR", "es_ES", "www.amazon.es", "EU"),
    Marketplace("A1F83G8C2ARO7P", "GB", "Amazon.co.uk", "GBP", "en_GB", "www.amazon.co.uk", "EU"),
    Marketplace("A13V1IB3VIYZZH", "FR", "Amazon.fr", "EUR", "fr_FR", "www.amazon.fr", "EU"),
    Marketplace("AMEN7PMS3EDWL", "BE", "Amazon.com.be", "EUR", "fr_BE", "www.amazon.com.be", "EU"),
    Marketplace("A1805IZSGTT6HS", "NL", "Amazon.nl", "EUR", "nl_NL", "www.amazon.nl", "EU"),
    Marketplace("A1PA6795UKMFR9", "DE", "Amazon.de", "EUR", "de_DE", "www.amazon.de", "EU"),
    Marketplace("APJ6JRA9NG5V4", "IT", "Amazon.it", "EUR", "it_IT", "www.amazon.it", "EU"),
    Marketplace("A2NODRKZP88ZB9", "SE", "Amazon.se", "SEK", "sv_SE", "www.amazon.se", "EU"),
    Marketplace("AE08WJ6YKNBMC", "ZA", "Amazon.co.za", "ZAR", "en_ZA", "www.amazon.co.za", "EU"),
    Marketplace("A1C3SOZRARQ6R3", "PL", "Amazon.pl", "PLN", "pl_PL", "www.amazon.pl", "EU"),
    Marketplace("ARBP9OOSHTCHU", "EG", "Amazon.eg", "EGP", "ar_EG", "www.amazon.eg", "EU"),
    Marketplace("A33AVAJ2PDY3EV", "TR", "Amazon.com.tr", "TRY", "tr_TR", "www.amazon.com.tr", "EU"),
    Marketplace("A17E79C6D8DWNP", "SA", "Amazon.sa", "SAR", "ar_SA", "www.amazon.sa", "EU"),
    Marketplace("A2VIGQ35RCS4UG", "AE", "Amazon.ae", "AED", "en_AE", "www.amazon.ae", "EU"),
    Marketplace("A21TJRUUN4KGV", "IN", "Amazon.in", "INR", "en_IN", "www.amazon.in", "EU"),
    # Far East
    Marketplace("A19VAU5U5O7RUS", "SG", "Amazon.sg", "SGD", "en_SG", "www.amazon.sg", "FE"),
    Marketplace("A39IBJ37TRP1C6", "AU", "Amazon.com.au", "AUD", "en_AU", "www.amazon.com.au", "FE"),
    Marketplace("A1VC38T7YXB528", "JP", "Amazon.co.jp", "JPY", "ja_JP", "www.amazon.co.jp", "FE"),
)

MARKETPLACES: dict[str, Marketplace] = {m.id: m for m in _ALL}
