"""mitmproxy entry file of an installed confaudit:
``mitmdump -s "$(confaudit addon-path)" --set confaudit_session=DIR [--set confaudit_vendor=NAME]``.

mitmproxy loads a script by its path and puts the script's directory first on ``sys.path`` for good (it
restores the same list object it changed). Here that directory is the package itself, whose modules
(``errors``, ``report``, ``capture``...) would then shadow top-level modules of the same names for every later
import in the proxy: the directory is taken off ``sys.path`` again, in place, before anything is imported.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

from confaudit.live.addons import SessionRecorder  # noqa: E402  (after the sys.path repair)
from confaudit.redact import Redactor  # noqa: E402

# The addon entry is an edge: the one Redactor (it reads or creates the key file) is made here and handed down.
addons = [SessionRecorder(Redactor.default())]
