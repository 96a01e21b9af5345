"""Programmatic page variations: re-skin an HTML page for another brand or product, language and layout.

This is what phishing kits and fake-shop templates do in the wild: one page, many skins. Each variant
keeps the page's purpose (a form asking for credentials stays a form asking for credentials) and
changes what a detector should *not* key on:

* **brand**: the seed's brand name (found in the page, or given) becomes the target brand in text,
  titles, alt texts and attribute values; logo images and favicons point to the target's logo; the
  title becomes a tagline with the target's name (so the new brand is always named on the page);
* **language**: visible strings from a small phrase table (``Sign in``, ``Password``...) are
  translated and ``<html lang>`` is set;
* **colours**: saturated colours in styles are mapped to the target's palette;
* **fields**: username/password fields get other names and ids (labels follow), hidden fields are
  reordered and a hidden token may be added;
* **layout**: the form is wrapped in a new block and sibling blocks are reordered;
* **css**: class names and ids are renamed consistently in attributes, ``<style>`` and scripts.

Operations are added until the variant is no longer a near-duplicate of the seed (Jaccard of
character 5-grams below ``max_similarity``), because a near-copy would be thrown away by the filter.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from distilsec.data.curate import dedup_key, jaccard, shingles
from distilsec.data.example import Example
from distilsec.errors import DataError
from distilsec.methods.synthesize.base import Candidate, provenance, variant_rng, variant_seed
from distilsec.methods.synthesize.brands import (
    DEFAULT_BRANDS,
    LANGUAGES,
    TAGLINES,
    Brand,
    brand_slug,
    detect_brand,
    translate_phrases,
)
from distilsec.methods.synthesize.html_tree import Element, Text, iter_elements, parse_html, serialise

__all__ = ["HTMLTemplateMutator", "OPERATIONS"]

OPERATIONS = ("language", "colours", "fields", "layout", "css")
_USER_NAMES = ("email", "login", "username", "user", "userid", "loginfmt", "identifier", "acct", "mail", "account")
_PASS_NAMES = ("password", "pass", "passwd", "pwd", "pw", "secret", "credential", "passcode")
_USER_RX = re.compile(r"user|mail|login|acct|account|ident|^id$|phone", re.I)
_TEXT_ATTRS = ("alt", "title", "placeholder", "aria-label", "content", "label")
_URL_ATTRS = ("src", "href", "action", "srcset", "data-src")
_BLOCKS = frozenset(
    {"div", "section", "header", "footer", "nav", "main", "aside", "article", "p", "form", "ul", "ol", "table"}
    | {f"h{i}" for i in range(1, 7)}
)
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_SYLLABLES = ("ka", "lo", "mi", "ve", "ra", "tu", "zen", "pa", "do", "qu", "ri", "sa", "no", "fi", "be", "xo")


#: characters compared when checking a variant's novelty: the curation default (``shingle_max_chars``), so
#: a 1 MB page costs what a 64 KB one does.
SHINGLE_MAX_CHARS = 65536


def _shingles(text: str) -> set[bytes]:
    return shingles(dedup_key(text)[:SHINGLE_MAX_CHARS])


def _ident(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(("", "-box", "_w", "2"))


def _shade(colour: str, factor: float) -> str:
    """``colour`` lightened (factor > 0) or darkened (factor < 0)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    if factor >= 0:
        r, g, b = (int(c + (255 - c) * factor) for c in (r, g, b))
    else:
        r, g, b = (int(c * (1 + factor)) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def _chromatic(colour: str) -> bool:
    c = colour[1:]
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    rgb = [int(c[i : i + 2], 16) for i in (0, 2, 4)]
    return max(rgb) - min(rgb) > 40


def _name_rx(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])", re.I)


class HTMLTemplateMutator:
    """Re-skins a page for other brands/products, languages and layouts (see the module docstring).

    Parameters
    ----------
    brands : target brands and storefront products (default :data:`.brands.DEFAULT_BRANDS`).
    languages : target languages (codes of :data:`~distilsec.methods.synthesize.brands.LANGUAGES`); ``"en"`` keeps
        the wording.
    source_brand : the brand the seed imitates, when known; else the most-named brand of ``brands``
        in the page (pages naming none still get the target brand in the title and a heading).
    max_similarity : keep adding operations while the variant's Jaccard similarity to the seed is at
        or above this (set it below the seed near-duplicate threshold of the filters).
    max_chars : pages above this many characters are refused (counted as ``seed_too_large``).
    logo_base : URL folder of the target logos (``<logo_base>/<brand-slug>-logo.svg``).
    benign_labels : labels whose pages get neutral titles (``"<brand> - <product>"``), never sign-in wording.

    Notes
    -----
    Variants of one seed get distinct target brands (a seeded permutation of ``brands``), so ``n``
    variants are ``n`` skins, not ``n`` near-copies of one skin.
    """

    name = "html_mutator.v1"
    task = "html"

    def __init__(
        self,
        brands: Sequence[Brand] | None = None,
        *,
        languages: Sequence[str] = LANGUAGES,
        source_brand: str | None = None,
        max_similarity: float = 0.8,
        max_chars: int = 1_000_000,
        logo_base: str = "/assets/img",
        benign_labels: Sequence[str] = ("benign",),
    ) -> None:
        self.brands = brands
        self.languages = languages
        self.source_brand = source_brand
        self.max_similarity = max_similarity
        self.max_chars = max_chars
        self.logo_base = logo_base
        self.benign_labels = benign_labels

    # ---- the generator contract ----
    def generate(self, seed: Example, n: int, *, random_state: int = 0) -> list[Candidate]:
        """``n`` re-skinned variants of the page ``seed.text`` (failed ones carry ``error``)."""
        brands = list(self.brands or DEFAULT_BRANDS)
        try:
            root = parse_html(seed.text, max_chars=self.max_chars)
        except DataError as exc:
            reason = (
                "seed_too_large" if isinstance(seed.text, str) and len(seed.text) > self.max_chars else "seed_error"
            )
            return [
                Candidate(None, seed.label, seed.id, self._prov(seed, i, random_state), reason, str(exc))
                for i in range(n)
            ]
        source = self._source_brand(root, brands)
        pool = [b for b in brands if source is None or b.name.lower() != source.name.lower()] or brands
        order = variant_rng(random_state, seed.id, -1).sample(pool, len(pool))
        seed_sh = _shingles(seed.text)
        out = []
        for i in range(n):
            rng = variant_rng(random_state, seed.id, i)
            brand = order[i % len(order)]
            language = rng.choice(list(self.languages)) if self.languages else "en"
            lure = str(seed.label) not in set(self.benign_labels)
            text, ops = self._variant(seed.text, source, brand, language, rng, seed_sh, lure)
            prov = self._prov(
                seed,
                i,
                random_state,
                variation=f"{brand.kind}-brand",
                target_brand=brand.name,
                product=brand.product,
                language=language,
                source_brand=source.name if source else None,
                operations=ops,
            )
            out.append(Candidate(text, seed.label, seed.id, prov))
        return out

    def _prov(self, seed: Example, i: int, random_state: int, **details: Any) -> dict[str, Any]:
        return provenance(self.name, seed, variant=i, random_seed=variant_seed(random_state, seed.id, i), **details)

    def _source_brand(self, root: Element, brands: list[Brand]) -> Brand | None:
        if self.source_brand:
            known = {b.name.lower(): b for b in brands}
            return known.get(self.source_brand.lower(), Brand(self.source_brand, ""))
        title = " ".join(el.text() for el in iter_elements(root) if el.tag == "title")
        attrs = " ".join(v or "" for el in iter_elements(root) for k, v in el.attrs if k in ("alt", "title"))
        urls = " ".join(v or "" for el in iter_elements(root) for k, v in el.attrs if k in ("src", "href"))
        return detect_brand(title, root.text() + " " + attrs, urls, brands)

    # ---- one variant ----
    def _variant(
        self,
        text: str,
        source: Brand | None,
        brand: Brand,
        language: str,
        rng: random.Random,
        seed_sh: set[bytes],
        lure: bool,
    ) -> tuple[str, list[str]]:
        root = parse_html(text, max_chars=self.max_chars)
        applied = ["brand"]
        self._brand(root, source, brand, language, rng, lure)
        todo = [op for op in OPERATIONS if op != "language" or language != "en"]
        first = [op for op in todo if rng.random() < 0.6]
        rest = [op for op in todo if op not in first]
        for op in first:
            self._apply(op, root, brand, language, rng)
            applied.append(op)
        out = serialise(root)
        for op in rest:  # not new enough yet: one more operation at a time
            if jaccard(seed_sh, _shingles(out)) < self.max_similarity:
                break
            self._apply(op, root, brand, language, rng)
            applied.append(op)
            out = serialise(root)
        return out, applied

    def _apply(self, op: str, root: Element, brand: Brand, language: str, rng: random.Random) -> None:
        if op == "language":
            self._language(root, language)
        elif op == "colours":
            self._colours(root, brand)
        elif op == "fields":
            self._fields(root, rng)
        elif op == "layout":
            self._layout(root, rng)
        elif op == "css":
            self._css(root, rng)

    # ---- operations ----
    def _brand(
        self, root: Element, source: Brand | None, brand: Brand, language: str, rng: random.Random, lure: bool
    ) -> None:
        names = []
        if source is not None:
            names = sorted({source.name, source.name.replace(" ", "")}, key=len, reverse=True)
        text_rx = [_name_rx(nm) for nm in names]
        slug_rx = [
            re.compile(re.escape(s), re.I) for s in {brand_slug(nm) for nm in names} | {nm.lower() for nm in names}
        ]
        slug = brand_slug(brand.name)
        for el in iter_elements(root):
            if el.tag not in ("script", "style"):
                for c in el.children:
                    if isinstance(c, Text):
                        for rx in text_rx:
                            c.data = rx.sub(brand.name, c.data)
            for pair in el.attrs:
                k, v = pair
                if v is None or k is None:
                    continue
                if k in _TEXT_ATTRS or (k == "value" and (el.get("type") or "").lower() in ("submit", "button")):
                    for rx in text_rx:
                        v = rx.sub(brand.name, v)
                elif k in _URL_ATTRS:
                    for rx in slug_rx:
                        v = rx.sub(slug, v)
                pair[1] = v
            if el.tag == "img" and self._is_logo(el, names):
                el.set("src", f"{self.logo_base}/{slug}-logo.{rng.choice(('svg', 'png'))}")
                el.set("alt", brand.name)
            if el.tag == "link" and "icon" in (el.get("rel") or "").lower():
                el.set("href", f"/{slug}/favicon.ico")
        lines = TAGLINES.get(language, TAGLINES["en"])
        lines = lines if lure else lines[1:3]  # no sign-in wording on a benign page
        tagline = rng.choice(lines).format(brand=brand.name, product=brand.product)
        self._set_title(root, tagline)
        if brand.name.lower() not in root.text().lower():
            self._add_heading(root, brand, tagline)

    @staticmethod
    def _is_logo(el: Element, names: list[str]) -> bool:
        blob = " ".join(el.get(k) or "" for k in ("src", "alt", "class", "id")).lower()
        return "logo" in blob or any(nm.lower() in blob or brand_slug(nm) in blob for nm in names)

    @staticmethod
    def _set_title(root: Element, tagline: str) -> None:
        titles = [el for el in iter_elements(root) if el.tag == "title"]
        if titles:
            titles[0].children = [Text(tagline)]
            return
        head = next((el for el in iter_elements(root) if el.tag == "head"), None)
        holder = head or next((el for el in iter_elements(root) if el.tag == "html"), None) or root
        at = 0 if holder is not root else next((i for i, c in enumerate(root.children) if isinstance(c, Element)), 0)
        holder.children.insert(at, Element("title", [], [Text(tagline)]))

    def _add_heading(self, root: Element, brand: Brand, tagline: str) -> None:
        slug = brand_slug(brand.name)
        logo = Element("img", [["src", f"{self.logo_base}/{slug}-logo.svg"], ["alt", brand.name]])
        heading = Element("h1", [], [Text(tagline if brand.name in tagline else brand.name)])
        for el in iter_elements(root):
            for i, c in enumerate(el.children):
                if isinstance(c, Element) and c.tag == "form":
                    el.children[i:i] = [logo, heading]
                    return
        body = next((el for el in iter_elements(root) if el.tag == "body"), root)
        body.children[0:0] = [logo, heading]

    @staticmethod
    def _language(root: Element, language: str) -> None:
        for el in iter_elements(root):
            if el.tag == "html":
                el.set("lang", language)
            if el.tag in ("script", "style"):
                continue
            for c in el.children:
                if isinstance(c, Text):
                    c.data = translate_phrases(c.data, language)
            for pair in el.attrs:
                if pair[1] is not None and (
                    pair[0] in ("placeholder", "title", "aria-label", "alt")
                    or (pair[0] == "value" and (el.get("type") or "").lower() in ("submit", "button"))
                ):
                    pair[1] = translate_phrases(pair[1], language)

    @staticmethod
    def _colours(root: Element, brand: Brand) -> None:
        primary = brand.colours[0]
        palette = [*brand.colours, _shade(primary, -0.25), _shade(primary, 0.45), _shade(primary, 0.8)]
        mapping: dict[str, str] = {}

        def sub(m: re.Match[str]) -> str:
            c = m.group(0).lower()
            if not _chromatic(c):
                return m.group(0)
            if c not in mapping:
                mapping[c] = palette[len(mapping) % len(palette)]
            return mapping[c]

        for el in iter_elements(root):
            for pair in el.attrs:
                if pair[1] is not None and pair[0] in ("style", "bgcolor", "color", "fill", "stroke"):
                    pair[1] = _HEX.sub(sub, pair[1])
            if el.tag == "style":
                for c in el.children:
                    if isinstance(c, Text):
                        c.data = _HEX.sub(sub, c.data)

    @staticmethod
    def _fields(root: Element, rng: random.Random) -> None:
        renamed: dict[str, str] = {}
        for form in [el for el in iter_elements(root) if el.tag == "form"]:
            inputs = [el for el in iter_elements(form) if el.tag == "input"]
            for el in inputs:
                typ = (el.get("type") or "text").lower()
                name = el.get("name") or el.get("id") or ""
                if typ == "password":
                    pool = _PASS_NAMES
                elif typ in ("email", "text", "tel") and (typ == "email" or _USER_RX.search(name)):
                    pool = _USER_NAMES
                else:
                    continue
                new = rng.choice([p for p in pool if p != name.lower()])
                if el.get("id"):
                    renamed[el.get("id") or ""] = new
                    el.set("id", new)
                el.set("name", new)
            hidden = [el for el in inputs if (el.get("type") or "").lower() == "hidden"]
            if len(hidden) > 1:  # reorder hidden fields among their own positions
                slots = [
                    (p, i) for p in iter_elements(form) for i, c in enumerate(p.children) if any(c is h for h in hidden)
                ]
                shuffled = rng.sample(hidden, len(hidden))
                for (parent, i), h in zip(slots, shuffled, strict=False):
                    parent.children[i] = h
            if rng.random() < 0.5:
                token = Element(
                    "input", [["type", "hidden"], ["name", _ident(rng)], ["value", f"{rng.getrandbits(48):x}"]]
                )
                form.children.insert(0, token)
        for el in iter_elements(root):
            if el.tag == "label" and el.get("for") in renamed:
                el.set("for", renamed[el.get("for") or ""])

    @staticmethod
    def _layout(root: Element, rng: random.Random) -> None:
        for el in iter_elements(root):  # wrap the first form in a new block
            for i, c in enumerate(el.children):
                if isinstance(c, Element) and c.tag == "form":
                    el.children[i] = Element(rng.choice(("div", "section", "main")), [["class", _ident(rng)]], [c])
                    break
            else:
                continue
            break
        for el in iter_elements(root):  # reorder the blocks of the first container that has several
            idx = [i for i, c in enumerate(el.children) if isinstance(c, Element) and c.tag in _BLOCKS]
            if len(idx) >= 2 and el.tag != "#document":
                blocks = [el.children[i] for i in idx]
                perm = rng.sample(blocks, len(blocks))
                if perm == blocks:
                    perm = blocks[1:] + blocks[:1]
                for i, b in zip(idx, perm, strict=True):
                    el.children[i] = b
                return

    @staticmethod
    def _css(root: Element, rng: random.Random) -> None:
        classes: dict[str, str] = {}
        ids: dict[str, str] = {}
        for el in iter_elements(root):
            for c in (el.get("class") or "").split():
                classes.setdefault(c, _ident(rng))
            i = el.get("id")
            if i and not re.fullmatch(r"[0-9a-fA-F]{3}|[0-9a-fA-F]{6}", i):
                ids.setdefault(i, _ident(rng))
        if not classes and not ids:
            return
        for el in iter_elements(root):
            if el.get("class"):
                el.set("class", " ".join(classes.get(c, c) for c in (el.get("class") or "").split()))
            for k in ("id", "for"):
                v = el.get(k)
                if v in ids:
                    el.set(k, ids[v])
        sel = {**{"." + k: "." + v for k, v in classes.items()}, **{"#" + k: "#" + v for k, v in ids.items()}}
        quoted = {**classes, **ids}
        sel_rx = re.compile("(" + "|".join(re.escape(k) for k in sorted(sel, key=len, reverse=True)) + r")(?![\w-])")
        q_rx = re.compile(r"(['\"])(" + "|".join(re.escape(k) for k in sorted(quoted, key=len, reverse=True)) + r")\1")
        for el in iter_elements(root):
            if el.tag in ("style", "script"):
                for c in el.children:
                    if isinstance(c, Text):
                        c.data = sel_rx.sub(lambda m: sel[m.group(1)], c.data)
                        if el.tag == "script":
                            c.data = q_rx.sub(lambda m: m.group(1) + quoted[m.group(2)] + m.group(1), c.data)
