"""Phone numbers to E.164, cached by distinct number.

Imports and rating normalize the *distinct* numbers of a batch once (a CDR file
repeats the same callers and popular destinations many times); the results are
kept in a bounded per-process cache shared by later batches.

Beyond ``phonenumbers``, numbers as carriers send them:

- emergency numbers of the region (``000``, ``112`` in Australia) become the
  country code followed by the digits (``+61000``), so that they are imported
  and rated (a free destination group), never an error row;
- ``00`` followed by a country code, the international prefix of most
  countries, which Australian carriers also send next to ``0011``; a number
  dialled with the region's own international prefix (``0011`` in Australia)
  keeps the country code it names, even when the rest is not a valid number
  there (``0011 64 9 123 4567`` is New Zealand, never ``+1 649``);
- ``style="intl"``: the supplier writes international numbers as E.164
  without the plus (``442079460011``, ``61412345678``): digits not starting
  with 0 are a country code and the number, unless that is no valid number and
  the digits are a valid national one (``1300 123 456``, ``13 13 13``); numbers
  starting with 0 are still read as dialled in the region.
"""

import re

import phonenumbers

CACHE_MAX = 500_000
# Version of these rules: stored with the normalized numbers (``rebilling.phone.number``),
# numbers normalized by other rules are normalized again.
RULES_VERSION = "3"
_cache = {}
# Longer texts are not phone numbers (not normalized, nor kept).
MAX_LENGTH = 64
_NOT_DIGITS = re.compile(r"[\s().\-]")


def _parse(text, region):
    """The possible phone number ``text`` (``None`` when it is not one)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def _own_idd(digits, region):
    """Whether ``digits`` start with the international prefix of ``region`` (0011 in AU)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    pattern = meta and meta.international_prefix
    return bool(pattern and re.match(f"(?:{pattern})", digits))


def _normalize(raw, region, style=None):
    """E.164 form of ``raw`` (``None`` when it is not a possible phone number)."""
    text = (raw or "").strip()
    if not text or len(text) > MAX_LENGTH:
        return None
    digits = _NOT_DIGITS.sub("", text)
    if region and digits.isdigit() and phonenumbers.is_emergency_number(digits, region):
        code = phonenumbers.country_code_for_region(region)
        return f"+{code}{digits}" if code else None
    number = None
    if style == "intl" and digits.isdigit() and digits[:1] not in ("", "0"):
        number = _parse("+" + digits, region)
        if number is not None and not phonenumbers.is_valid_number(number):
            # Not a valid international number: a national one as dialled (13 13 13,
            # 1300 123 456), when it is valid there.
            national = _parse(text, region)
            if national is not None and phonenumbers.is_valid_number(national):
                number = national
        if number is not None:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number = _parse(text, region)
    # Not a valid number with 00 when the region's own international prefix is
    # another (0011 in Australia): 00 and a country code.
    if (
        digits.startswith("00")
        and not _own_idd(digits, region)
        and digits[2:3] not in ("", "0")
        and (number is None or not phonenumbers.is_valid_number(number))
    ):
        number = _parse("+" + digits[2:], region) or number
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(raw, region=None, style=None):
    """E.164 of ``raw``, national numbers read in ``region`` (ISO code, e.g. ``AU``).

    ``style``: how the supplier writes numbers (``None``: as dialled; ``"intl"``:
    international ones as E.164 without the plus).
    """
    key = (region, style, raw)
    if key in _cache:
        return _cache[key]
    result = _normalize(raw, region, style)
    if len(_cache) >= CACHE_MAX:
        _cache.clear()
    _cache[key] = result
    return result


def normalize_many(raws, region=None, style=None):
    """``{raw: e164 or None}`` for an iterable of distinct numbers."""
    return {raw: normalize(raw, region, style) for raw in raws}


def clear_cache():
    _cache.clear()
