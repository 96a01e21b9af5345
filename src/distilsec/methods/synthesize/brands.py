"""Target brands, storefront products and a small phrase table: what page variations are made of.

Phishing kits are one template re-skinned for many brands, and fake storefronts one shop template
re-skinned for many products. A detector trained on one skin learns the brand name; trained on many,
it has to learn the structure (a credential form posting elsewhere, a brand that does not match the
host). The defaults mix common login brands with storefront-style products (jewels, tea, curtains,
perfumes, sunglasses, cushions, bags...), and every list can be replaced by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Brand",
    "DEFAULT_BRANDS",
    "KNOWN_BRAND_NAMES",
    "PHRASES",
    "LANGUAGES",
    "brand_slug",
    "translate_phrases",
    "find_brand",
    "detect_brand",
]


@dataclass(frozen=True)
class Brand:
    """One skin: a name, what it sells or offers, and its colours.

    Attributes
    ----------
    name : as written on the page (``"Maison Lune"``).
    product : what the brand is about (``"perfumes"``, ``"webmail"``); used in taglines and prompts.
    colours : brand colours (``#rrggbb``), primary first.
    kind : ``"login"`` (a service people sign in to) or ``"store"`` (a shop).
    """

    name: str
    product: str
    colours: tuple[str, ...] = ("#1a73e8", "#ffffff")
    kind: str = "login"


# fmt: off
DEFAULT_BRANDS: tuple[Brand, ...] = (
    # common login brands (what credential phishing imitates)
    Brand("Microsoft", "Office 365 account", ("#0078d4", "#f3f2f1")),
    Brand("Outlook", "webmail", ("#0f6cbd", "#ffffff")),
    Brand("Google", "account", ("#1a73e8", "#ffffff")),
    Brand("Apple", "Apple ID", ("#0071e3", "#f5f5f7")),
    Brand("PayPal", "payments", ("#003087", "#009cde")),
    Brand("Amazon", "shopping account", ("#ff9900", "#232f3e")),
    Brand("Netflix", "streaming", ("#e50914", "#141414")),
    Brand("DHL", "parcel tracking", ("#ffcc00", "#d40511")),
    Brand("DocuSign", "documents", ("#4c00ff", "#ffffff")),
    Brand("Dropbox", "file sharing", ("#0061ff", "#ffffff")),
    Brand("LinkedIn", "professional network", ("#0a66c2", "#ffffff")),
    Brand("Chase", "online banking", ("#117aca", "#ffffff")),
    Brand("Wells Fargo", "online banking", ("#d71e28", "#ffcd41")),
    Brand("Coinbase", "crypto wallet", ("#0052ff", "#ffffff")),
    # storefront-style products (what fake shops sell)
    Brand("Aurelia Jewels", "jewels", ("#b8860b", "#fffaf0"), "store"),
    Brand("Lumen Jewellery", "jewellery", ("#c0a062", "#1c1c1c"), "store"),
    Brand("Jade Leaf Tea", "tea", ("#3b7d4f", "#f4f1e8"), "store"),
    Brand("Velvet Drapes", "curtains", ("#7b2d43", "#f7efe9"), "store"),
    Brand("Maison Lune", "perfumes", ("#5b3a6e", "#fbf7fb"), "store"),
    Brand("Solaris Shades", "sunglasses", ("#ff6f00", "#101820"), "store"),
    Brand("Nido Cushions", "cushions", ("#d98c5f", "#fff8f0"), "store"),
    Brand("Carryall Bags", "bags", ("#2f4858", "#f2e8cf"), "store"),
    Brand("Atelier Sacs", "handbags", ("#8c5e3c", "#ffffff"), "store"),
    Brand("Nordic Knit", "sweaters", ("#34495e", "#ecf0f1"), "store"),
)
# fmt: on

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")

#: English phrase -> translations in LANGUAGES order after "en" (fr, de, es, it, pt, nl). Short, common
#: login / shop strings only: enough to change the language of a page's visible text.
# fmt: off
PHRASES: dict[str, tuple[str, ...]] = {
    "sign in": ("Se connecter", "Anmelden", "Iniciar sesión", "Accedi", "Entrar", "Inloggen"),
    "log in": ("Connexion", "Einloggen", "Acceder", "Accedi", "Entrar", "Inloggen"),
    "login": ("Connexion", "Anmeldung", "Acceso", "Accesso", "Login", "Inloggen"),
    "password": ("Mot de passe", "Passwort", "Contraseña", "Password", "Senha", "Wachtwoord"),
    "email": ("E-mail", "E-Mail", "Correo electrónico", "Email", "E-mail", "E-mailadres"),
    "email address": ("Adresse e-mail", "E-Mail-Adresse", "Dirección de correo", "Indirizzo email",
                      "Endereço de e-mail", "E-mailadres"),
    "username": ("Nom d'utilisateur", "Benutzername", "Usuario", "Nome utente", "Usuário", "Gebruikersnaam"),
    "forgot your password?": ("Mot de passe oublié ?", "Passwort vergessen?", "¿Olvidaste tu contraseña?",
                              "Password dimenticata?", "Esqueceu sua senha?", "Wachtwoord vergeten?"),
    "forgot password?": ("Mot de passe oublié ?", "Passwort vergessen?", "¿Olvidaste tu contraseña?",
                         "Password dimenticata?", "Esqueceu a senha?", "Wachtwoord vergeten?"),
    "remember me": ("Se souvenir de moi", "Angemeldet bleiben", "Recordarme", "Ricordami", "Lembrar de mim",
                    "Onthoud mij"),
    "next": ("Suivant", "Weiter", "Siguiente", "Avanti", "Próximo", "Volgende"),
    "continue": ("Continuer", "Fortfahren", "Continuar", "Continua", "Continuar", "Doorgaan"),
    "submit": ("Valider", "Absenden", "Enviar", "Invia", "Enviar", "Verzenden"),
    "verify": ("Vérifier", "Bestätigen", "Verificar", "Verifica", "Verificar", "Verifiëren"),
    "verify your account": ("Vérifiez votre compte", "Bestätigen Sie Ihr Konto", "Verifique su cuenta",
                            "Verifica il tuo account", "Verifique sua conta", "Verifieer uw account"),
    "your account has been suspended": ("Votre compte a été suspendu", "Ihr Konto wurde gesperrt",
                                        "Su cuenta ha sido suspendida", "Il tuo account è stato sospeso",
                                        "Sua conta foi suspensa", "Uw account is opgeschort"),
    "create account": ("Créer un compte", "Konto erstellen", "Crear cuenta", "Crea account", "Criar conta",
                       "Account aanmaken"),
    "welcome back": ("Bon retour", "Willkommen zurück", "Bienvenido de nuevo", "Bentornato", "Bem-vindo de volta",
                     "Welkom terug"),
    "add to cart": ("Ajouter au panier", "In den Warenkorb", "Añadir al carrito", "Aggiungi al carrello",
                    "Adicionar ao carrinho", "In winkelwagen"),
    "checkout": ("Paiement", "Zur Kasse", "Pagar", "Cassa", "Finalizar compra", "Afrekenen"),
    "free shipping": ("Livraison gratuite", "Kostenloser Versand", "Envío gratis", "Spedizione gratuita",
                      "Frete grátis", "Gratis verzending"),
    "sale": ("Soldes", "Sale", "Rebajas", "Saldi", "Promoção", "Uitverkoop"),
    "card number": ("Numéro de carte", "Kartennummer", "Número de tarjeta", "Numero di carta",
                    "Número do cartão", "Kaartnummer"),
    "phone number": ("Numéro de téléphone", "Telefonnummer", "Número de teléfono", "Numero di telefono",
                     "Número de telefone", "Telefoonnummer"),
    "privacy": ("Confidentialité", "Datenschutz", "Privacidad", "Privacy", "Privacidade", "Privacy"),
    "terms": ("Conditions", "Nutzungsbedingungen", "Términos", "Termini", "Termos", "Voorwaarden"),
    "help": ("Aide", "Hilfe", "Ayuda", "Aiuto", "Ajuda", "Help"),
}
# fmt: on

#: taglines for the title / heading, per language; ``{brand}`` and ``{product}`` are filled in. Entries 1
#: and 2 are neutral (no sign-in wording): benign pages only get those.
TAGLINES: dict[str, tuple[str, ...]] = {
    "en": ("Sign in to {brand}", "{brand} - {product}", "Welcome to {brand}", "{brand} | Secure login"),
    "fr": ("Connexion à {brand}", "{brand} - {product}", "Bienvenue chez {brand}"),
    "de": ("Bei {brand} anmelden", "{brand} - {product}", "Willkommen bei {brand}"),
    "es": ("Inicia sesión en {brand}", "{brand} - {product}", "Bienvenido a {brand}"),
    "it": ("Accedi a {brand}", "{brand} - {product}", "Benvenuto su {brand}"),
    "pt": ("Entrar no {brand}", "{brand} - {product}", "Bem-vindo à {brand}"),
    "nl": ("Inloggen bij {brand}", "{brand} - {product}", "Welkom bij {brand}"),
}


def brand_slug(name: str) -> str:
    """``"Maison Lune"`` -> ``"maison-lune"`` (for file names, CSS classes and hosts)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "brand"


def _phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    alts = sorted((re.escape(p) for p in phrases), key=len, reverse=True)  # longest first
    return re.compile(r"(?<![\w])(" + "|".join(alts) + r")(?![\w])", re.I)


_PHRASE_RX = _phrase_pattern(list(PHRASES))


def translate_phrases(text: str, language: str, phrases: Mapping[str, Sequence[str]] | None = None) -> str:
    """``text`` with every known English phrase replaced by its ``language`` version (case-insensitive).

    Unknown languages and unknown phrases are left as they are (the table is small on purpose).

    >>> translate_phrases("Forgot your password?", "de")
    'Passwort vergessen?'
    """
    if language == "en" or language not in LANGUAGES:
        return text
    table = PHRASES if phrases is None else phrases
    rx = _PHRASE_RX if phrases is None else _phrase_pattern(list(table))
    j = LANGUAGES.index(language) - 1

    def sub(m: re.Match[str]) -> str:
        row = table.get(m.group(1).lower())
        return row[j] if row and j < len(row) else m.group(0)

    return rx.sub(sub, text)


# fmt: off
#: brands phishing kits commonly imitate, for recognising a seed page's brand (targets come from the
#: brand list; these are only looked for).
KNOWN_BRAND_NAMES: tuple[str, ...] = (
    "Facebook", "Instagram", "GitHub", "GitLab", "VK", "Roblox", "Twitter", "Adobe", "Yahoo", "Steam", "Discord",
    "Spotify", "Snapchat", "TikTok", "eBay", "WhatsApp", "Office 365", "OneDrive", "SharePoint", "iCloud", "Binance",
    "MetaMask", "Badoo", "Twitch", "Reddit", "Pinterest", "Tumblr", "WordPress", "Yandex", "ProtonMail", "Zoom",
    "Slack", "Shopify", "Alibaba", "Bank of America", "Citibank", "HSBC", "Santander", "USPS", "FedEx", "UPS",
    "Airbnb", "Booking.com", "PlayStation", "Xbox", "Epic Games", "MediaFire", "DeviantArt", "Quora", "StackOverflow",
    "Mastercard", "Visa", "AOL", "Hotmail", "Gmail", "Office", "Telegram", "Signal", "Venmo", "Cash App", "Revolut",
)
_TITLE_STOP = frozenset({
    "sign", "log", "login", "logon", "in", "on", "to", "the", "your", "my", "account", "accounts", "page", "home",
    "secure", "security", "welcome", "verify", "verification", "update", "password", "email", "mail", "online",
    "service", "services", "portal", "and", "or", "of", "for", "with", "by", "a", "an", "new", "user", "users",
})
# fmt: on


def _mentions(name: str, low_text: str) -> int:
    return len(re.findall(r"(?<![a-z0-9])" + re.escape(name.lower()) + r"(?![a-z0-9])", low_text))


def detect_brand(title: str, text: str, urls: str, brands: Sequence[Brand]) -> Brand | None:
    """The brand a page imitates: the most-named of ``brands`` and :data:`KNOWN_BRAND_NAMES` (a name in the
    title counts five times, a slug in an image or link URL once), else a capitalised title word that the
    page repeats; ``None`` when nothing stands out.

    >>> detect_brand("Sign in to GitHub · GitHub", "Username or email", "/img/github-mark.svg", DEFAULT_BRANDS).name
    'GitHub'
    """
    by_name = {b.name: b for b in brands}
    for n in KNOWN_BRAND_NAMES:
        by_name.setdefault(n, Brand(n, ""))
    lt, lx, lu = title.lower(), text.lower(), urls.lower()
    best, best_score = None, 0.0
    for name, b in by_name.items():
        score = 5 * _mentions(name, lt) + _mentions(name, lx) + 0.5 * lu.count(brand_slug(name).replace("-", ""))
        if score > best_score:
            best, best_score = b, score
    if best is not None and best_score >= 2:
        return best
    for word in re.findall(r"[A-Z][\w.&'-]{1,30}", title):
        if word.lower() not in _TITLE_STOP and _mentions(word, lt + " " + lx) >= 2:
            return Brand(word, "")
    return None


def find_brand(text: str, brands: Sequence[Brand]) -> Brand | None:
    """The brand of ``brands`` named most often in ``text`` (case-insensitive, whole words), if any."""
    best, best_n = None, 0
    low = text.lower()
    for b in brands:
        n = len(re.findall(r"(?<![a-z0-9])" + re.escape(b.name.lower()) + r"(?![a-z0-9])", low))
        if n > best_n:
            best, best_n = b, n
    return best
