"""mitmproxy entry file of a source checkout: ``mitmdump -s addons/confaudit.py --set confaudit_session=DIR``.

The same addon as an installed package's ``mitmdump -s "$(confaudit addon-path)"`` (confaudit/mitmproxy_addon.py).
"""

import os
import sys

# mitmproxy puts this file's directory first on sys.path, where this very file would shadow the
# ``confaudit`` package: import with that directory hidden.
_here = os.path.dirname(os.path.abspath(__file__))
_saved = list(sys.path)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
if getattr(sys.modules.get("confaudit"), "__path__", None) is None:
    sys.modules.pop("confaudit", None)
try:
    from confaudit.live.addons import SessionRecorder
    from confaudit.redact import Redactor
finally:
    sys.path[:] = _saved

addons = [SessionRecorder(Redactor.default())]  # the edge: one Redactor (key file) for the session
