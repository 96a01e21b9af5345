"""Programmatic URL variations that keep the kind of site: other brand, TLD, subdomains, path and values.

A phishing URL keeps its lure (a brand name where it does not belong, login words, a throw-away TLD)
while everything else changes from one campaign to the next; an ordinary URL keeps being ordinary.
Word pools are label-aware: login/verify words are only added to labels outside ``benign_labels``,
and brand, TLD and typo-squatting changes only happen there (a benign URL with another TLD or brand
is another site, possibly a lookalike), so a benign URL only moves within its site.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from distilsec.data.curate import jaccard, shingles
from distilsec.data.example import Example
from distilsec.methods.synthesize.base import Candidate, provenance, variant_rng, variant_seed
from distilsec.methods.synthesize.brands import DEFAULT_BRANDS, Brand, brand_slug

__all__ = ["URLMutator", "URL_TRANSFORMS"]

_TLDS = ("com", "net", "org", "info", "xyz", "top", "online", "site", "app", "io", "co", "shop", "live", "cc")
_LURE_WORDS = (
    "secure",
    "login",
    "signin",
    "account",
    "verify",
    "update",
    "support",
    "auth",
    "service",
    "billing",
    "confirm",
    "wallet",
    "recovery",
    "id",
    "session",
    "portal",
)
_NEUTRAL_WORDS = (
    "docs",
    "blog",
    "news",
    "shop",
    "help",
    "about",
    "products",
    "store",
    "app",
    "m",
    "en",
    "static",
    "media",
    "community",
    "careers",
    "events",
)
_LURE_FILES = (
    "index.php",
    "login.php",
    "signin.html",
    "verify.php",
    "auth.aspx",
    "account.html",
    "default.aspx",
    "update.jsp",
    "validate.php",
    "secure.html",
)
_NEUTRAL_FILES = ("index.html", "about.html", "faq.html", "page.php", "article.html", "view.aspx", "home.html")
#: what a benign URL may change: where it points inside a site, not which site it is.
_BENIGN_OK = frozenset({"subdomain", "path"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*://)", re.I)


def _split(url: str) -> tuple[str, str, str]:
    """``(scheme://, host, rest)``; ``rest`` starts with ``/``, ``?`` or ``#`` (or is empty)."""
    m = _SCHEME.match(url)
    scheme = m.group(1) if m else ""
    body = url[len(scheme) :]
    cut = min((i for i in (body.find("/"), body.find("?"), body.find("#")) if i >= 0), default=len(body))
    return scheme, body[:cut], body[cut:]


class _Ctx:
    def __init__(self, lure: bool, brands: list[Brand]) -> None:
        self.lure = lure
        self.brands = brands
        self.words = _LURE_WORDS if lure else _NEUTRAL_WORDS
        self.files = _LURE_FILES if lure else _NEUTRAL_FILES


def _tld(url: str, ctx: _Ctx, rng: random.Random) -> str | None:
    scheme, host, rest = _split(url)
    port = ""
    if ":" in host:
        host, port = host.split(":", 1)
        port = ":" + port
    labels = host.split(".")
    if len(labels) < 2 or re.fullmatch(r"[\d.]+", host):
        return None
    labels[-1] = rng.choice([t for t in _TLDS if t != labels[-1].lower()])
    return scheme + ".".join(labels) + port + rest


def _brand(url: str, ctx: _Ctx, rng: random.Random) -> str | None:
    low = url.lower()
    for b in ctx.brands:
        for form in {brand_slug(b.name), b.name.lower().replace(" ", "")}:
            if len(form) >= 3 and form in low:
                other = rng.choice([x for x in ctx.brands if x.name != b.name])
                new = rng.choice((brand_slug(other.name), other.name.lower().replace(" ", "")))
                return re.sub(re.escape(form), new, url, flags=re.I)
    return None


def _subdomain(url: str, ctx: _Ctx, rng: random.Random) -> str | None:
    scheme, host, rest = _split(url)
    labels = host.split(".")
    if re.fullmatch(r"[\d.:]+", host) or not host:
        return None
    if len(labels) > 2 and rng.random() < 0.4:
        labels = labels[1:]
    else:
        word = rng.choice(ctx.words)
        sep = rng.choice(("-", ".", "")) if ctx.lure else "."
        if sep == ".":
            labels.insert(0, word)
        else:  # a lure glued to the first label: secure-paypal.com
            labels[0] = f"{word}{sep}{labels[0]}"
    return scheme + ".".join(labels) + rest


def _path(url: str, ctx: _Ctx, rng: random.Random) -> str | None:
    scheme, host, rest = _split(url)
    path, q, query = rest.partition("?")
    parts = [p for p in path.split("/") if p]
    if parts and rng.random() < 0.6:
        i = rng.randrange(len(parts))
        parts[i] = rng.choice(ctx.files) if "." in parts[i] else rng.choice(ctx.words)
    else:
        parts.insert(rng.randint(0, len(parts)), rng.choice(ctx.words))
    new_query = re.sub(r"(?<==)[^&#]+", lambda m: f"{rng.getrandbits(40):x}", query) if query else ""
    return scheme + host + "/" + "/".join(parts) + (q + new_query if q else "")


def _typo(url: str, ctx: _Ctx, rng: random.Random) -> str | None:
    if not ctx.lure:
        return None
    scheme, host, rest = _split(url)
    labels = host.split(".")
    if len(labels) < 2:
        return None
    i = max(range(len(labels) - 1), key=lambda j: len(labels[j]))
    word = labels[i]
    if len(word) < 4 or not word.isalpha():
        return None
    k = rng.randrange(1, len(word) - 1)
    style = rng.randrange(3)
    swaps = {"l": "1", "o": "0", "i": "l", "m": "rn", "e": "3", "a": "4"}
    if style == 0 and word[k] in swaps:
        word = word[:k] + swaps[word[k]] + word[k + 1 :]
    elif style == 1:
        word = word[:k] + word[k] + word[k:]
    else:
        word = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    labels[i] = word
    return scheme + ".".join(labels) + rest


URL_TRANSFORMS: dict[str, Callable[[str, _Ctx, random.Random], str | None]] = {
    "brand": _brand,
    "tld": _tld,
    "subdomain": _subdomain,
    "path": _path,
    "typo": _typo,
}


class URLMutator:
    """Kind-keeping URL variations (see the module docstring).

    Parameters
    ----------
    brands : brands whose names are swapped for one another (default: the default brand list).
    benign_labels : labels that never get lure words or typo-squatting.
    max_similarity : keep stacking transformations while the Jaccard similarity to the seed is at or
        above this.
    max_chars : longer seeds are refused (``seed_too_large``).
    """

    name = "url_mutator.v1"
    task = "url"

    def __init__(
        self,
        brands: Sequence[Brand] | None = None,
        *,
        benign_labels: Sequence[str] = ("benign",),
        max_similarity: float = 0.8,
        max_chars: int = 4096,
    ) -> None:
        self.brands = brands
        self.benign_labels = benign_labels
        self.max_similarity = max_similarity
        self.max_chars = max_chars

    def generate(self, seed: Example, n: int, *, random_state: int = 0) -> list[Candidate]:
        text = seed.text
        if not isinstance(text, str) or not text.strip() or len(text) > self.max_chars:
            reason = "seed_too_large" if isinstance(text, str) and len(text) > self.max_chars else "seed_error"
            return [Candidate(None, seed.label, seed.id, self._prov(seed, i, random_state), reason) for i in range(n)]
        text = text.strip()
        ctx = _Ctx(str(seed.label) not in set(self.benign_labels), list(self.brands or DEFAULT_BRANDS))
        seed_sh = shingles(text)
        seen = {text}
        out = []
        for i in range(n):
            rng = variant_rng(random_state, seed.id, i)
            new, applied = text, []
            for _attempt in range(4):
                new, applied = text, []
                names = [t for t in URL_TRANSFORMS if ctx.lure or t in _BENIGN_OK]
                for name in rng.sample(names, len(names)):
                    if applied and new not in seen and jaccard(seed_sh, shingles(new)) < self.max_similarity:
                        break
                    got = URL_TRANSFORMS[name](new, ctx, rng)
                    if got and got != new:
                        new, applied = got, [*applied, name]
                if new not in seen:
                    break
            prov = self._prov(seed, i, random_state, variation=applied[0] if applied else "none", transforms=applied)
            if new in seen:
                out.append(Candidate(None, seed.label, seed.id, prov, "no_variation", "no transformation applies"))
                continue
            seen.add(new)
            out.append(Candidate(new, seed.label, seed.id, prov))
        return out

    def _prov(self, seed: Example, i: int, random_state: int, **details: Any) -> dict[str, Any]:
        return provenance(self.name, seed, variant=i, random_seed=variant_seed(random_state, seed.id, i), **details)
