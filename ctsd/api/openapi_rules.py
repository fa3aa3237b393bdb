"""Patterns (ECMA/Python regular expressions) for values the service checks in code, so
that the OpenAPI document (ctsd/api/openapi_*.py) allows exactly those values. Each
names the check it mirrors; tests/unit/test_openapi_rules.py holds the two together.
"""

from __future__ import annotations

# End of the text. Python's `$` (schemathesis and jsonschema match with Python's re)
# also matches before a final newline, which every check here refuses; ECMA's does not.
END = r"$(?!\n)"
# What str.isspace() calls whitespace, which the checks refuse. Neither `\s` will do:
# ECMA's and ASCII-mode Python's (schemathesis reads patterns so) leave out \x1c-\x1f
# and \x85, Unicode-mode Python's is this set.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

_DAY_31 = r"(0[13578]|1[02])(0[1-9]|[12][0-9]|3[01])"
_DAY_30 = r"(0[469]|11)(0[1-9]|[12][0-9]|30)"
_FEBRUARY = r"02(0[1-9]|1[0-9]|2[0-8])"
_YEAR = r"([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"  # 0001-9999
_LEAP_YEAR = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
# YYYYMMDD of a day that exists (datetime.strptime's "%Y%m%d", which the service uses).
CALENDAR_DATE = (rf"^({_YEAR}({_DAY_31}|{_DAY_30}|{_FEBRUARY})|{_LEAP_YEAR}0229){END}")

_URL_HOST = r"[A-Za-z0-9._~%!$&'()*+,;=-]+"
_URL_PORT = r"(:([0-5]?[0-9]{0,4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
# handlers/validation.check_http_url: http(s), a host, a valid port, no whitespace or
# control characters anywhere.
HTTP_URL = (rf"^[Hh][Tt][Tt][Pp][Ss]?://({_URL_HOST}@)?{_URL_HOST}{_URL_PORT}"
            rf"([/?#][^{WHITESPACE}\x00-\x1f\x7f]*)?{END}")
# handlers/tags.check_tag_name: no whitespace, not "-..." (a negated list filter), not
# only digits (that reads as a tag id).
TAG_NAME = rf"^([^{WHITESPACE}0-9-]|[0-9]+[^{WHITESPACE}0-9])[^{WHITESPACE}]*{END}"
# handlers/validation.check_text: required text has something besides whitespace.
NOT_BLANK = rf"[^{WHITESPACE}]"
# handlers/composeinfo._SAFE_NAME with productmd's RELEASE_VERSION_RE: a version that
# starts with a digit is dotted numbers.
RELEASE_VERSION = rf"^([A-Za-z][A-Za-z0-9._+-]*|[0-9]+(\.[0-9]+)*){END}"
# handlers/composeinfo._SAFE_NAME.
RELEASE_SHORT = rf"^[A-Za-z0-9][A-Za-z0-9._+-]*{END}"
