"""Phone numbers to E.164, cached by distinct number.

Imports and rating normalize the *distinct* numbers of a batch once (a CDR file
repeats the same callers and popular destinations many times); the results are
kept in a bounded per-process cache shared by later batches.

Beyond ``phonenumbers``, numbers as carriers send them:

- emergency numbers of the region (``000``, ``112`` in Australia) become the
  country code followed by the digits (``+61000``), so that they are imported
  and rated (a free destination group), never an error row;
- ``00`` followed by a country code, the international prefix of most
  countries, which Australian carriers also send next to ``0011``.
"""

import re

import phonenumbers

CACHE_MAX = 500_000
# Version of these rules: stored with the normalized numbers (``rebilling.phone.number``),
# numbers normalized by other rules are normalized again.
RULES_VERSION = "2"
_cache = {}
_NOT_DIGITS = re.compile(r"[\s().\-]")


def _parse(text, region):
    """The possible phone number ``text`` (``None`` when it is not one)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def _normalize(raw, region):
    """E.164 form of ``raw`` (``None`` when it is not a possible phone number)."""
    text = (raw or "").strip()
    if not text:
        return None
    digits = _NOT_DIGITS.sub("", text)
    if region and digits.isdigit() and phonenumbers.is_emergency_number(digits, region):
        code = phonenumbers.country_code_for_region(region)
        return f"+{code}{digits}" if code else None
    number = _parse(text, region)
    # Not a valid number with the region's own international prefix (0011 in
    # Australia): 00 and a country code.
    if (
        digits.startswith("00")
        and digits[2:3] not in ("", "0")
        and (number is None or not phonenumbers.is_valid_number(number))
    ):
        number = _parse("+" + digits[2:], region) or number
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(raw, region=None):
    """E.164 of ``raw``, national numbers read in ``region`` (ISO code, e.g. ``AU``)."""
    key = (region, raw)
    if key in _cache:
        return _cache[key]
    result = _normalize(raw, region)
    if len(_cache) >= CACHE_MAX:
        _cache.clear()
    _cache[key] = result
    return result


def normalize_many(raws, region=None):
    """``{raw: e164 or None}`` for an iterable of distinct numbers."""
    return {raw: normalize(raw, region) for raw in raws}


def clear_cache():
    _cache.clear()
