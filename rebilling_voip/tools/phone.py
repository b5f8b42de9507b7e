"""Phone numbers to E.164, cached by distinct number.

Imports and rating normalize the *distinct* numbers of a batch once (a CDR file
repeats the same callers and popular destinations many times); the results are
kept in a bounded per-process cache shared by later batches.
"""

import phonenumbers

CACHE_MAX = 500_000
_cache = {}


def _normalize(raw, region):
    """E.164 form of ``raw`` (``None`` when it is not a possible phone number)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
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
